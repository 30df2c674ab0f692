"""``--save-keys DIR``: IKE and ESP keys in the files Wireshark/tshark 4.x decrypt with.

DEBUGGING ONLY. Anyone who can read these files and a capture reads the tunnels' traffic.

Two UAT files (Wireshark's "user access tables", one record a line, fields separated by
commas, strings quoted, byte strings as bare hex), in the field order of Wireshark's
packet-isakmp.c and packet-esp.c (the same lines strongSwan's save-keys plugin writes):

    ikev2_decryption_table:  SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ"
    esp_sa:                  "IPv4","src","dst","0xSPI","encr","0xkey","auth","0xkey"

Point tshark at them with a private configuration directory (WIRESHARK_CONFIG_DIR=DIR) or
copy them into ~/.config/wireshark/. Suites Wireshark cannot decrypt get a ``#`` comment
line instead (UAT files allow comments), so the files always say what was negotiated.
"""

from __future__ import annotations

import os
import re

from ikev2d.ike import events as ev

__all__ = ["ESP_FILE", "IKE_FILE", "KeyWriter", "esp_lines", "ike_line"]

IKE_FILE = "ikev2_decryption_table"
ESP_FILE = "esp_sa"

_IKE_INTEG = {
    "NONE": "NONE [RFC4306]",
    "AUTH_HMAC_MD5_96": "HMAC_MD5_96 [RFC2403]",
    "AUTH_HMAC_SHA1_96": "HMAC_SHA1_96 [RFC2404]",
    "AUTH_HMAC_SHA2_256_128": "HMAC_SHA2_256_128 [RFC4868]",
    "AUTH_HMAC_SHA2_384_192": "HMAC_SHA2_384_192 [RFC4868]",
    "AUTH_HMAC_SHA2_512_256": "HMAC_SHA2_512_256 [RFC4868]",
}
_ESP_INTEG = {
    ("hmac(sha1)", 96): "HMAC-SHA-1-96 [RFC2404]",
    ("hmac(sha256)", 128): "HMAC-SHA-256-128 [RFC4868]",
    ("hmac(sha384)", 192): "HMAC-SHA-384-192 [RFC4868]",
    ("hmac(sha512)", 256): "HMAC-SHA-512-256 [RFC4868]",
}


def _ike_encr(keyword: str) -> str | None:
    """Wireshark's name of an IKE encryption transform from our keyword (aes256, aes128gcm16)."""
    cbc = re.fullmatch(r"aes(128|192|256)", keyword)
    if cbc:
        return f"AES-CBC-{cbc.group(1)} [RFC3602]"
    gcm = re.fullmatch(r"aes(128|192|256)gcm(8|12|16)", keyword)
    if gcm:
        return f"AES-GCM-{gcm.group(1)} with {gcm.group(2)} octet ICV [RFC5282]"
    if keyword == "3des":
        return "3DES [RFC2451]"
    return None


def ike_line(e: ev.IkeKeysDerived) -> str:
    encr, integ = _ike_encr(e.encr), _IKE_INTEG.get(e.integ)
    if encr is None or integ is None:
        return (
            f"# {e.spi_i.hex()},{e.spi_r.hex()}: {e.encr}/{e.integ} not decryptable by Wireshark\n"
        )
    return (
        f'{e.spi_i.hex()},{e.spi_r.hex()},{e.sk_ei.hex()},{e.sk_er.hex()},"{encr}",'
        f'{e.sk_ai.hex()},{e.sk_ar.hex()},"{integ}"\n'
    )


def _esp_algorithms(spec: ev.ChildSaSpec) -> tuple[str, str] | None:
    if spec.integ_xfrm is None:
        if spec.encr_xfrm == "rfc4106(gcm(aes))":
            return f"AES-GCM with {spec.icv_bits // 8} octet ICV [RFC4106]", "NULL"
        return None
    integ = _ESP_INTEG.get((spec.integ_xfrm, spec.icv_bits))
    encr = {"cbc(aes)": "AES-CBC [RFC3602]", "cbc(des3_ede)": "TripleDES-CBC [RFC2451]"}.get(
        spec.encr_xfrm
    )
    return (encr, integ) if encr and integ else None


def esp_lines(spec: ev.ChildSaSpec) -> str:
    """Both directions of a Child SA (inbound: client -> us, outbound: us -> client)."""
    names = _esp_algorithms(spec)
    here, there = spec.local[0], spec.remote[0]
    if names is None:
        spis = f"{spec.inbound_spi:08x}/{spec.outbound_spi:08x}"
        return f"# {spis}: {spec.algorithms} not decryptable by Wireshark\n"
    encr, integ = names
    family = "IPv6" if ":" in here else "IPv4"
    out = []
    for src, dst, spi, ekey, ikey in (
        (there, here, spec.inbound_spi, spec.encr_key_in, spec.integ_key_in),
        (here, there, spec.outbound_spi, spec.encr_key_out, spec.integ_key_out),
    ):
        auth_key = f"0x{ikey.hex()}" if ikey else ""
        out.append(
            f'"{family}","{src}","{dst}","0x{spi:08x}","{encr}","0x{ekey.hex()}",'
            f'"{integ}","{auth_key}"\n'
        )
    return "".join(out)


class KeyWriter:
    """Appends key records to DIR/ikev2_decryption_table and DIR/esp_sa (mode 0600)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _append(self, name: str, text: str) -> None:
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(text)

    def ike(self, e: ev.IkeKeysDerived) -> None:
        self._append(IKE_FILE, ike_line(e))

    def child(self, spec: ev.ChildSaSpec) -> None:
        self._append(ESP_FILE, esp_lines(spec))
