"""The key format: fixed length, base62, a CRC32 checksum a scanner can check offline."""

import zlib

from hypothesis import given
from hypothesis import strategies as st

from api_keys import keys


def test_a_new_key_has_the_prefix_the_length_and_a_valid_checksum():
    key = keys.new_key()

    assert key.startswith("vsk_live_")
    assert len(key) == keys.KEY_LENGTH == 45
    assert keys.is_well_formed(key)


def test_the_checksum_is_the_crc32_of_the_random_part_in_six_base62_digits():
    random_part = "0" * 29 + "1"
    key = keys.KEY_PREFIX + random_part + keys.checksum(random_part)

    value = 0
    for char in key[-6:]:
        value = value * 62 + keys.BASE62.index(char)
    assert value == zlib.crc32(random_part.encode())
    assert keys.to_base62(61, 3) == "00z" and keys.to_base62(62, 3) == "010"


def test_keys_do_not_repeat():
    assert len({keys.new_key() for _ in range(200)}) == 200


@given(position=st.integers(min_value=len(keys.KEY_PREFIX), max_value=keys.KEY_LENGTH - 1),
       replacement=st.sampled_from(keys.BASE62))
def test_changing_any_character_breaks_the_checksum(position, replacement):
    key = keys.KEY_PREFIX + "a" * 30 + keys.checksum("a" * 30)
    if key[position] == replacement:
        return
    typo = key[:position] + replacement + key[position + 1:]

    assert not keys.is_well_formed(typo)


def test_malformed_strings_are_not_keys():
    good = keys.new_key()
    for bad in ["", good[:-1], good + "0", good.replace("vsk_live_", "vsk_test_"), good[:20] + "-" + good[21:],
                "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"]:
        assert not keys.is_well_formed(bad)


def test_the_hash_is_sha256_hex_and_the_prefix_shows_only_eight_random_characters():
    key = keys.new_key()

    assert len(keys.hash_key(key)) == 64 and keys.hash_key(key) != keys.hash_key(keys.new_key())
    assert keys.display_prefix(key) == key[:17]
    assert keys.display_prefix("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b") == "legacy_9944"
