"""Frames from the wild: Appendix A of vectors.md and the Gurux forum seed thread.

These are not fully verified vectors: most come without a key. They are
facts to test robustness against (reject them with the right error, or
decode as far as the data allows).
"""

from __future__ import annotations

# --- Appendix A --------------------------------------------------------------

# A1: Landis+Gyr E450, first block of a General-Block-Transfer sequence only
# (blocks 2 and 3 missing). System title 4C475A67737C7EE0 contains 0x7E.
# Decrypting the ciphertext that is present (CTR) gives 1-0:1.8.0 = 8684853
# Wh and 1-0:1.7.0 = 1565 W; the tag is in the missing last block.
A1_PARTIAL_BLOCK_FRAME = bytes.fromhex(
    "7ea08bceff0313eee1e6e700e0400001000077db084c475a67737c7ee082010330000879"
    "a66ad533b89c24bfe1680b0745ab2138b4098c33c9ba956639d0cbfce9a657a4076ad04a"
    "e0b190441d489b62452aef0c240229e8c0ff3c03e18ddabdc6cdffa94330ca9c16be8059"
    "aa17a9084b6bec007d2f675d720a65fd0a70f1eaf16122cddf80971057b4d8eb7e"
)
A1_ENCRYPTION_KEY = bytes.fromhex("7340BC1501143C498CD677811D771921")
A1_AUTHENTICATION_KEY = bytes.fromhex("DDFC444A5C78B74D46C158DBE711D37A")
A1_INVOCATION_COUNTER = 0x000879A6

# A3: the start of a garbled IR read (bit errors) that should have been 7E A0.
A3_GARBLED_START = bytes.fromhex("7c00728e00000002")

# A5: Netz NÖ Sagemcom T210-D, first M-Bus frame with L = 0x01 but 257 user-data
# bytes (L overflowed), then a normal second segment. Key unknown.
A5_MBUS_L_OVERFLOW = bytes.fromhex(
    "6801016853ff000167db085341475905e6dbe281f820003986b8e7ac20cb8a3ad2886192"
    "bbeefe4ce64b339f23497be7ef7dc6748d8967c0569d2c1c5a0b4ef8274362f607474a49"
    "66e0ce8784a4b9699c71396dfe7e0299fa5767df99c8e0dc98a8227eb231d09be6cd140c"
    "686e3df8652d07ee8aab0de1a5aca4656f5f1862c3f880f8f163efb56420afafb9c6a242"
    "2a8ddc2178719ae30419f91b6e40b84329cc48dada48f9ecc46163d9b73ee57be2110a41"
    "0499a5b7643acf067c21bb2da39bfa78b6b4238fcde673732cde16c743dc580e617f02f4"
    "019bae06ac30ec5abf1aaba75cbfc3eb780153b6108208e8bc7ef31cc01cf0844f661cce"
    "243a642e9719d42953a316680d0d6853ff110167b2f678e644e82687aa16"
)
A5_SYSTEM_TITLE = bytes.fromhex("5341475905E6DBE2")

# --- Gurux forum thread "WienerNetze meter reading" (AM550, keys unknown) ------

# tofuSCHNITZEL's push message: IC 0x001E7C70.
SEED_TOFU = bytes.fromhex(
    "7ea067cf022313fbf1e6e700db0849534b697456f2c34f20001e7c7084747abde06afd9d"
    "573972a26fb7e03e19d13366c43b72a212ba089f79b3ec074f474e1ea9c86e445ec8156d"
    "8c0ec33b9953fa58200768fdccd633933b4453bf53c990c241e538c3320d01e27e"
)
SEED_TOFU_COUNTER = 0x001E7C70

# pocki's nine frames in sequence; the invocation counter (octets 25..28)
# counts up by one per frame: 0x0003B1D9 .. 0x0003B1E1.
SEED_POCKI = [
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1d916c20deacbd13348"
        "b07a7b3a850ac5c1ce55a70ea57a15c284c6ba47326e2a598f3276b7a4a15c0393c4492c"
        "a83a560b3b535d158a22055f89a1117caa91895fcf63c505b4207b16a9a3f6797e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1dac0b0525da13d5d20"
        "f3ffc534fd6087d7e3312270eb06b18286b332bbe2c5c5fedcedc40a3fb3f80cae0492d1"
        "3d089f64f6182675ddcb22c006e3fae8a5dcb48317d57b57396ce1a2266fae537e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1db45e7e76891fbde03"
        "9df9368720167f1afab0a9d368df2cff94b7edaa448117039ef5d8d40b55896349163a38"
        "f54da377171771b6d80daca04430e5e4b10e88cf20f9ba31ed7a8c237ddbf4287e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1dc7dd76223c60e6287"
        "eb53841d22e203f0a0e8642eb68e4e2a31d97a37241fe8c813becc1dcc15b52bbedbb6fe"
        "41f11717cee0aac920ff91c0bacc4114eab9d2d3f79885f0a23f02b53bd17e517e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1dd060cfa1bc33d656a"
        "1f16b651e5566d23d6e50dfaa980b118a8a49cc77c44dfdd574fe072ce14db07e186c9b8"
        "19ac56e86154ff8a1365c9c69e9181bdf53535aa4b73e0b2e929f3795d0ef9577e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1de4da9867907a6e02a"
        "4867c2e3bfa66f222f95b261e7af980847ce8b6e4f65db6a29d093edd13ccd4122f484d1"
        "e342e91e3970e6c18aac9b4a97952ae76f7668ccb7f13dc9e26539adc9efe2bd7e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1dfa859ab1a55be95a4"
        "50f2c21871720f92f1d2d4932e5dca26b30fc4ea8d15f3d21b02da375fd212f8ae6b5e4a"
        "e16f438027118fc5a2aab32d5eded562b393cffe21db89400e5f721a2c7c7e257e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1e0c49c7de44789f487"
        "e9595a2a9ce6b3be0cff8a3f89fae308289a8c1eecf2de9ba1647af5283940613c04ad38"
        "1e900076753192ee83e62522668c5096ee8a1bff8e90f84f922bff56b2c19f457e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b69746c83b44f200003b1e18cc9c0b5186b621c"
        "d16d020bb9145a79011759206838d215837baff7eb96678f9a1fd500ba67078271a74d66"
        "af8012974e437dd3ec13e3dbc3ac8a0ddc75b9d1b5e0fac9ec5ddca79f370e027e"
    ),
]
SEED_POCKI_FIRST_COUNTER = 0x0003B1D9

# steve_cz: three consecutive frames; the second is 9 bytes short (part of the
# HDLC header and the LLC/APDU header are missing) and fails its checksum.
# The first and third carry IC 0x001D27DC and 0x001D27DE.
SEED_STEVE_GOOD = [
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b697492ed664f20001d27dc8b311eca460bb40f"
        "27df9a0ff3e736754b7cd8f33547499fe09379b787e1e32267ad3af04db30f42c9de2f7f"
        "10fe8adf86ba327948ec5cfc5731afcaafc2ac80f9e87f621a9441108ede09f67e"
    ),
    bytes.fromhex(
        "7ea067cf022313fbf1e6e700db0849534b697492ed664f20001d27de2fc7c7266c39b714"
        "0f3316cb377c44fd547804b353be2e57d2bbc8edfb47c1b104ef9f727d81167586e85293"
        "6778fd70ba28e49b7e53038388a4ae5a84c72de911ab50712a798efa07d3c1fa7e"
    ),
]
SEED_STEVE_COUNTERS = [0x001D27DC, 0x001D27DE]
SEED_STEVE_SHORT = bytes.fromhex(
    "7ea067cf022313fb697492ed664f20001d27ddbf7c4794eb2cbadff8cf924a3364eae663"
    "b58db78c4d0e1b92cddec725cb9f177bc256ae83aa4194d4629e6b3e4c9b33ec467406de"
    "b5c8404c549853a2b251495c2b19d67fb27b98cd5c3d137e"
)

# steve_cz's earlier read: 99 of 105 bytes (the 00 after E6 E7 and 5 more
# bytes are missing), so the frame cannot pass its checksum.
SEED_STEVE_99_BYTES = bytes.fromhex(
    "7ea067cf022313fbf1e6e7db0849534b697492ed664f2002b2fdfe7c3836b7172549d0a3"
    "a899d38ff13721daa0bb5896ef55e2848c1558bf715c7e537ef39d4953c29468f4b5b401"
    "b06e10be3189ad590855a53696fa7b7d76a493ccad8d98e298847e"
)
