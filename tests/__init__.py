"""Tests of the DLMS Smart Meter integration and its protocol package."""
