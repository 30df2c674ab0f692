"""Authentication: EAP-MSCHAPv2 (`eap_mschapv2`, `eap`), signature AUTH (`signatures`),
client certificate checks (`certs`) and the built-in CA (`ca`). Sans-IO: randomness and time
are arguments; files are handled by `ikev2d.pki_files`."""
