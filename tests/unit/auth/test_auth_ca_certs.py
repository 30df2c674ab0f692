"""Built-in CA contents, PKCS#12 export and client certificate validation."""

import datetime as dt
import ipaddress
import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ikev2d.auth import ca
from ikev2d.auth.certs import (
    CertificateRejected,
    identity_matches_cert,
    not_after,
    not_before,
    validate_client_cert,
)
from ikev2d.auth.signatures import sign_auth, verify_auth
from ikev2d.wire.enums import AuthMethod, IdType

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
_counter = itertools.count(1)


def rng(n):
    return next(_counter).to_bytes(n, "big")


def der(cert):
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def authority():
    return ca.make_ca("test CA", NOW, rng, "ecdsa-p256")


@pytest.fixture(scope="module")
def rsa_authority():
    return ca.make_ca("test CA rsa", NOW, rng)


def ext(cert, kind):
    return cert.extensions.get_extension_for_class(kind)


def test_ca_certificate_contents(rsa_authority):
    cert = rsa_authority.certificate
    assert cert.issuer == cert.subject
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(cert, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert cert.public_key().key_size == 2048
    assert not_after(cert) - not_before(cert) == ca.CA_VALIDITY
    cert.verify_directly_issued_by(cert)


def test_server_certificate_contents(rsa_authority):
    server = ca.issue_server_cert(rsa_authority, ["vpn.example.test", "192.0.2.1"], NOW, rng)
    cert = server.certificate
    cert.verify_directly_issued_by(rsa_authority.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "vpn.example.test"
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["vpn.example.test", "192.0.2.1"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.1")]
    ekus = list(ext(cert, x509.ExtendedKeyUsage).value)
    assert ekus == [ExtendedKeyUsageOID.SERVER_AUTH, ca.IKE_INTERMEDIATE]
    ku = ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    assert not ext(cert, x509.BasicConstraints).value.ca
    assert not_after(cert) - not_before(cert) == ca.SERVER_VALIDITY
    assert not_before(cert) <= NOW < not_after(cert)
    assert ca.check_key_matches(cert, server.private_key)
    assert not ca.check_key_matches(cert, rsa_authority.private_key)


def test_server_ipv6_only_and_no_names(authority):
    cert = ca.issue_server_cert(authority, ["2001:db8::1"], NOW, rng).certificate
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["2001:db8::1"]
    with pytest.raises(ValueError):
        ca.issue_server_cert(authority, [], NOW, rng)


def test_leaf_never_outlives_ca(authority):
    late = not_after(authority.certificate) - dt.timedelta(days=10)
    cert = ca.issue_client_cert(authority, "late", late, rng).certificate
    assert not_after(cert) == not_after(authority.certificate)


def test_client_certificate_and_pkcs12(authority):
    client = ca.issue_client_cert(authority, "alice", NOW, rng, "ecdsa-p256")
    cert = client.certificate
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["alice"]
    mail = ca.issue_client_cert(authority, "bob@example.test", NOW, rng, "ecdsa-p256")
    san = ext(mail.certificate, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["bob@example.test"]
    blob = ca.client_pkcs12(client, authority.certificate, b"s3cret")
    key, loaded, extra = pkcs12.load_key_and_certificates(blob, b"s3cret")
    assert loaded == cert and extra == [authority.certificate]
    assert ca.check_key_matches(cert, key)
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(blob, b"wrong")
    with pytest.raises(ValueError):
        ca.client_pkcs12(client, authority.certificate, b"")


@pytest.mark.parametrize("name", ["", "../x", "a b", ".hidden", "x" * 65, "a/b"])
def test_client_names_are_restricted(authority, name):
    with pytest.raises(ValueError):
        ca.issue_client_cert(authority, name, NOW, rng, "ecdsa-p256")


def test_valid_client_accepted_and_identities_match(authority):
    client = ca.issue_client_cert(authority, "carol@example.test", NOW, rng, "ecdsa-p256")
    cert, ident = validate_client_cert(der(client.certificate), authority.certificate, NOW)
    assert ident.common_name == "carol@example.test"
    assert ident.serial == client.certificate.serial_number
    assert identity_matches_cert(cert, IdType.RFC822_ADDR, b"Carol@Example.test")
    assert identity_matches_cert(cert, IdType.DER_ASN1_DN, cert.subject.public_bytes())
    assert not identity_matches_cert(cert, IdType.RFC822_ADDR, b"mallory@example.test")
    assert not identity_matches_cert(cert, IdType.FQDN, b"carol@example.test")
    assert not identity_matches_cert(cert, IdType.IPV4_ADDR, b"\xc0\x00\x02\x01")
    # The client's AUTH verifies with the key from its certificate.
    auth = sign_auth(client.private_key, b"octets", AuthMethod.DIGITAL_SIGNATURE, 2)
    assert verify_auth(cert, b"octets", AuthMethod.DIGITAL_SIGNATURE, auth)


def test_server_cert_ip_identity(authority):
    cert = ca.issue_server_cert(authority, ["192.0.2.1"], NOW, rng).certificate
    assert identity_matches_cert(cert, IdType.IPV4_ADDR, bytes([192, 0, 2, 1]))
    assert identity_matches_cert(cert, IdType.FQDN, b"192.0.2.1")
    assert not identity_matches_cert(cert, IdType.IPV4_ADDR, b"\x01\x02\x03")


def test_expired_and_not_yet_valid_rejected(authority):
    client = ca.issue_client_cert(authority, "dave", NOW, rng, "ecdsa-p256")
    with pytest.raises(CertificateRejected, match="expired"):
        validate_client_cert(
            der(client.certificate), authority.certificate, NOW + dt.timedelta(days=800)
        )
    with pytest.raises(CertificateRejected, match="not yet valid"):
        validate_client_cert(
            der(client.certificate), authority.certificate, NOW - dt.timedelta(days=1)
        )


def test_revoked_rejected(authority):
    client = ca.issue_client_cert(authority, "eve", NOW, rng, "ecdsa-p256")
    serial = client.certificate.serial_number
    with pytest.raises(CertificateRejected, match="revoked"):
        validate_client_cert(der(client.certificate), authority.certificate, NOW, {serial})
    validate_client_cert(der(client.certificate), authority.certificate, NOW, {serial + 1})


def test_foreign_ca_rejected_even_with_same_name(authority):
    impostor = ca.make_ca("test CA", NOW, rng, "ecdsa-p256")  # same subject, other key
    client = ca.issue_client_cert(impostor, "frank", NOW, rng, "ecdsa-p256")
    with pytest.raises(CertificateRejected, match="signature"):
        validate_client_cert(der(client.certificate), authority.certificate, NOW)
    other = ca.make_ca("other CA", NOW, rng, "ecdsa-p256")
    client = ca.issue_client_cert(other, "frank", NOW, rng, "ecdsa-p256")
    with pytest.raises(CertificateRejected, match="issuer"):
        validate_client_cert(der(client.certificate), authority.certificate, NOW)


def test_server_cert_and_ca_cert_not_accepted_as_client(authority):
    server = ca.issue_server_cert(authority, ["vpn.example.test"], NOW, rng, "ecdsa-p256")
    with pytest.raises(CertificateRejected, match="clientAuth"):
        validate_client_cert(der(server.certificate), authority.certificate, NOW)
    with pytest.raises(CertificateRejected, match="CA certificate"):
        validate_client_cert(der(authority.certificate), authority.certificate, NOW)
    with pytest.raises(CertificateRejected, match="parse"):
        validate_client_cert(b"\x30\x03junk", authority.certificate, NOW)


def test_naive_now_is_utc(authority):
    client = ca.issue_client_cert(authority, "gina", NOW, rng, "ecdsa-p256")
    validate_client_cert(der(client.certificate), authority.certificate, NOW.replace(tzinfo=None))


def test_key_types():
    assert isinstance(ca.generate_key("ecdsa-p384").curve, ec.SECP384R1)
    with pytest.raises(ValueError):
        ca.generate_key("dsa")
