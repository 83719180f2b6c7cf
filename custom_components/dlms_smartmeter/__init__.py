"""The DLMS Smart Meter integration."""
