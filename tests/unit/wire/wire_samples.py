"""Sample IKEv2 messages of every shape the responder meets, shared by the wire tests."""

from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import (
    AuthMethod,
    CertEncoding,
    CfgAttr,
    CfgType,
    DhId,
    EapCode,
    EapType,
    EncrId,
    EsnId,
    ExchangeType,
    HashAlgorithm,
    IdType,
    IntegId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformType,
)
from ikev2d.wire.message import Header, Message
from ikev2d.wire.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
    VendorIdPayload,
)
from ikev2d.wire.sa import Attribute, Proposal, SaPayload, Transform
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload, UnknownSelector

SPI_I = bytes.fromhex("0102030405060708")
SPI_R = bytes.fromhex("a1a2a3a4a5a6a7a8")
ZERO_SPI = bytes(8)

ENCR, PRF, INTEG, KE, ESN = (
    TransformType.ENCR,
    TransformType.PRF,
    TransformType.INTEG,
    TransformType.KE,
    TransformType.ESN,
)

IKE_PROPOSALS = (
    Proposal(
        1,
        ProtocolId.IKE,
        b"",
        (
            Transform(ENCR, EncrId.AES_CBC, 256),
            Transform(ENCR, EncrId.AES_CBC, 128),
            Transform(PRF, PrfId.HMAC_SHA2_256),
            Transform(INTEG, IntegId.HMAC_SHA2_256_128),
            Transform(KE, DhId.MODP2048),
            Transform(KE, DhId.ECP256),
        ),
    ),
    Proposal(
        2,
        ProtocolId.IKE,
        b"",
        (
            Transform(ENCR, EncrId.AES_GCM_16, 256),
            Transform(PRF, PrfId.HMAC_SHA2_384),
            Transform(KE, DhId.CURVE25519),
        ),
    ),
    Proposal(
        3,
        ProtocolId.IKE,
        b"",
        (
            Transform(ENCR, EncrId.CHACHA20_POLY1305),
            Transform(PRF, PrfId.HMAC_SHA2_256),
            Transform(KE, DhId.CURVE25519),
            # An unregistered TLV attribute and a TV one survive a round trip.
            Transform(
                KE, DhId.ML_KEM_768, None, (Attribute(300, b"\x01\x02\x03"), Attribute(17, 5))
            ),
        ),
    ),
)

ESP_PROPOSALS = (
    Proposal(
        1,
        ProtocolId.ESP,
        bytes.fromhex("c0ffee01"),
        (
            Transform(ENCR, EncrId.AES_CBC, 256),
            Transform(INTEG, IntegId.HMAC_SHA2_256_128),
            Transform(ESN, EsnId.NO_ESN),
        ),
    ),
    Proposal(
        2,
        ProtocolId.ESP,
        bytes.fromhex("c0ffee01"),
        (
            Transform(ENCR, EncrId.AES_GCM_16, 128),
            Transform(ESN, EsnId.NO_ESN),
            Transform(ESN, EsnId.ESN),
        ),
    ),
)

NONCE_I = bytes(range(32))
NONCE_R = bytes(range(100, 132))
KE_DATA = bytes(range(256))
NATD = bytes(range(20))

TS_ANY = (
    TrafficSelector.from_range("0.0.0.0", "255.255.255.255"),
    TrafficSelector.from_range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
)
TS_LAN = (
    TrafficSelector.from_network("192.168.1.0/24", ip_protocol=6, start_port=80, end_port=443),
    TrafficSelector.from_network("fd00:1::/64", ip_protocol=17, start_port=53, end_port=53),
    UnknownSelector(10, 0, b"system_u:object_r"),  # RFC 9478 security label, kept verbatim
)

CP_REQUEST = CpPayload.request(
    CfgAttr.INTERNAL_IP4_ADDRESS,
    CfgAttr.INTERNAL_IP4_NETMASK,
    CfgAttr.INTERNAL_IP4_DNS,
    CfgAttr.INTERNAL_IP4_NBNS,
    CfgAttr.INTERNAL_IP4_DHCP,
    CfgAttr.APPLICATION_VERSION,
    CfgAttr.INTERNAL_IP6_ADDRESS,
    CfgAttr.INTERNAL_IP6_DNS,
    CfgAttr.INTERNAL_IP6_DHCP,
    CfgAttr.INTERNAL_IP4_SUBNET,
    CfgAttr.SUPPORTED_ATTRIBUTES,
    CfgAttr.INTERNAL_IP6_SUBNET,
    CfgAttr.INTERNAL_DNS_DOMAIN,
    28675,  # a private-use attribute some clients send
)
CP_REPLY = CpPayload(
    CfgType.REPLY,
    (
        CfgAttribute.ip4_address("10.10.10.2"),
        CfgAttribute.ip4_netmask("255.255.255.0"),
        CfgAttribute.ip4_dns("192.168.1.1"),
        CfgAttribute(CfgAttr.INTERNAL_IP4_NBNS, bytes([192, 168, 1, 2])),
        CfgAttribute(CfgAttr.INTERNAL_IP4_DHCP, bytes([192, 168, 1, 3])),
        CfgAttribute(CfgAttr.APPLICATION_VERSION, b"ikev2d 0.1"),
        CfgAttribute.ip6_address("fd00:10::2/64"),
        CfgAttribute.ip6_dns("fd00:1::1"),
        CfgAttribute(CfgAttr.INTERNAL_IP6_DHCP, bytes(15) + b"\x01"),
        CfgAttribute.ip4_subnet("192.168.1.0/24"),
        CfgAttribute(CfgAttr.SUPPORTED_ATTRIBUTES, bytes.fromhex("000100020003")),
        CfgAttribute.ip6_subnet("fd00:1::/64"),
        CfgAttribute.dns_domain("lan.example"),
    ),
)


def header(exchange, mid, *, initiator, response):
    spi_r = ZERO_SPI if exchange == ExchangeType.IKE_SA_INIT and not response else SPI_R
    return Header(SPI_I, spi_r, exchange, mid, initiator=initiator, response=response)


def sa_init_request():
    # IKE_SA_INIT { SA, KE, Ni, N(NATD_S), N(NATD_D), N(FRAG_SUP), N(SIG_HASH), V } -->
    return Message(
        header(ExchangeType.IKE_SA_INIT, 0, initiator=True, response=False),
        (
            SaPayload(IKE_PROPOSALS),
            KePayload(DhId.MODP2048, KE_DATA),
            NoncePayload(NONCE_I),
            NotifyPayload.of(NotifyType.NAT_DETECTION_SOURCE_IP, NATD),
            NotifyPayload.of(NotifyType.NAT_DETECTION_DESTINATION_IP, NATD[::-1]),
            NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
            NotifyPayload.signature_hash_algorithms(
                [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512]
            ),
            VendorIdPayload(bytes.fromhex("882fe56d6fd20dbc2251613b2ebe5beb")),
        ),
    )


def sa_init_response():
    # <-- IKE_SA_INIT { SA, KE, Nr, N(NATD_S), N(NATD_D), CERTREQ, N(FRAG_SUP), N(MULTI_AUTH) }
    chosen = Proposal(2, ProtocolId.IKE, b"", IKE_PROPOSALS[1].transforms)
    return Message(
        header(ExchangeType.IKE_SA_INIT, 0, initiator=False, response=True),
        (
            SaPayload((chosen,)),
            KePayload(DhId.CURVE25519, KE_DATA[:32]),
            NoncePayload(NONCE_R),
            NotifyPayload.of(NotifyType.NAT_DETECTION_SOURCE_IP, NATD),
            NotifyPayload.of(NotifyType.NAT_DETECTION_DESTINATION_IP, NATD),
            CertReqPayload(CertEncoding.X509_CERT_SIGNATURE, bytes(range(40))),
            NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
            NotifyPayload.of(NotifyType.MULTIPLE_AUTH_SUPPORTED),
        ),
    )


def sa_init_invalid_ke():
    # <-- IKE_SA_INIT { N(INVALID_KE_PAYLOAD(19)) }
    return Message(
        header(ExchangeType.IKE_SA_INIT, 0, initiator=False, response=True),
        (NotifyPayload.invalid_ke(DhId.ECP256),),
    )


def sa_init_cookie_retry():
    # IKE_SA_INIT { N(COOKIE), SA, KE, Ni } -->
    first = sa_init_request()
    return Message(
        first.header, (NotifyPayload.cookie(b"\x00" + bytes(range(32))), *first.payloads[:3])
    )


def auth_request_inner():
    # IKE_AUTH { IDi, IDr, AUTH, CP(REQ), SA, TSi, TSr, N(INITIAL_CONTACT), N(MOBIKE) } -->
    return (
        IdiPayload(IdType.RFC822_ADDR, b"client1@example.test"),
        IdrPayload(IdType.FQDN, b"vpn.example.test"),
        AuthPayload(AuthMethod.SHARED_KEY_MIC, bytes(range(32))),
        CP_REQUEST,
        SaPayload(ESP_PROPOSALS),
        TsiPayload(TS_ANY),
        TsrPayload(TS_ANY),
        NotifyPayload.of(NotifyType.INITIAL_CONTACT),
        NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED),
        NotifyPayload.of(NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED),
        NotifyPayload.of(NotifyType.NON_FIRST_FRAGMENTS_ALSO),
    )


def auth_response_inner():
    # <-- IKE_AUTH { IDr, CERT, AUTH, CP(REPLY), SA, TSi, TSr, N(ADDITIONAL_TS_POSSIBLE) }
    chosen = Proposal(1, ProtocolId.ESP, bytes.fromhex("cafe0001"), ESP_PROPOSALS[0].transforms)
    return (
        IdrPayload(IdType.DER_ASN1_DN, bytes.fromhex("3011310f300d06035504030c06726f75746572")),
        CertPayload(CertEncoding.X509_CERT_SIGNATURE, b"\x30\x82" + bytes(300)),
        AuthPayload(AuthMethod.DIGITAL_SIGNATURE, bytes(range(200))),
        CP_REPLY,
        SaPayload((chosen,)),
        TsiPayload(TS_ANY[:1]),
        TsrPayload(TS_LAN),
        NotifyPayload.of(NotifyType.ADDITIONAL_TS_POSSIBLE),
    )


def eap_inners():
    # <-- IKE_AUTH { IDr, AUTH, EAP(Request/Identity) } ; EAP(Response/MSCHAPv2) -->
    # <-- EAP(Success)
    return [
        (
            IdrPayload(IdType.FQDN, b"vpn.example.test"),
            AuthPayload(AuthMethod.RSA_SIG, bytes(256)),
            EapPayload(EapCode.REQUEST, 1, EapType.IDENTITY),
        ),
        (EapPayload(EapCode.RESPONSE, 1, EapType.IDENTITY, b"dave"),),
        (EapPayload(EapCode.REQUEST, 2, EapType.MSCHAPV2, bytes(range(30))),),
        (EapPayload(EapCode.RESPONSE, 2, EapType.MSCHAPV2, bytes(range(54))),),
        (EapPayload(EapCode.SUCCESS, 3),),
        (EapPayload(EapCode.FAILURE, 4),),
    ]


def informational_inners():
    # INFORMATIONAL { D(IKE) } ; { D(ESP, 2 SPIs) } ; { } (liveness) ; MOBIKE update
    return [
        (DeletePayload.ike(),),
        (DeletePayload.child(ProtocolId.ESP, [0xC0FFEE01, 0xC0FFEE02]),),
        (),
        (
            NotifyPayload.of(NotifyType.UPDATE_SA_ADDRESSES),
            NotifyPayload.of(NotifyType.NAT_DETECTION_SOURCE_IP, NATD),
            NotifyPayload.of(NotifyType.NAT_DETECTION_DESTINATION_IP, NATD),
            NotifyPayload.of(NotifyType.COOKIE2, bytes(16)),
            NotifyPayload.of(NotifyType.ADDITIONAL_IP4_ADDRESS, bytes([198, 51, 100, 7])),
            NotifyPayload.of(NotifyType.ADDITIONAL_IP6_ADDRESS, bytes(15) + b"\x07"),
            NotifyPayload.of(NotifyType.NO_ADDITIONAL_ADDRESSES),
        ),
    ]


def create_child_inner():
    # CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, KEi, TSi, TSr } -->
    return (
        NotifyPayload.rekey_sa(ProtocolId.ESP, 0xC0FFEE01),
        SaPayload(ESP_PROPOSALS),
        NoncePayload(NONCE_I),
        KePayload(DhId.ECP256, bytes(64)),
        TsiPayload(TS_LAN[:2]),
        TsrPayload(TS_ANY),
    )


def ike_rekey_inner():
    # CREATE_CHILD_SA { SA (IKE, 8-byte SPI), Ni, KEi } -->
    p = Proposal(1, ProtocolId.IKE, SPI_I, IKE_PROPOSALS[0].transforms)
    return (SaPayload((p,)), NoncePayload(NONCE_I), KePayload(DhId.MODP2048, KE_DATA))


def encrypted_message(exchange, mid, first_inner, *, initiator=True, response=False):
    blob = bytes(range(16)) + bytes(range(48)) + bytes(16)  # IV | ciphertext | ICV
    return Message(
        header(exchange, mid, initiator=initiator, response=response),
        (EncryptedPayload(first_inner, blob),),
    )


def fragment_messages():
    # IKE_AUTH { SKF(1/3, next=IDi) }, { SKF(2/3) }, { SKF(3/3) } -->
    h = header(ExchangeType.IKE_AUTH, 1, initiator=True, response=False)
    return [
        Message(h, (EncryptedFragmentPayload(PayloadType.IDi, 1, 3, bytes(range(100))),)),
        Message(h, (EncryptedFragmentPayload(0, 2, 3, bytes(range(100))),)),
        Message(h, (EncryptedFragmentPayload(0, 3, 3, bytes(40)),)),
    ]


def unknown_payload_message():
    # A non-critical unknown payload (kept) and a critical one (exposed for the caller).
    return Message(
        header(ExchangeType.INFORMATIONAL, 5, initiator=False, response=True),
        (
            UnknownPayload(49, False, b"gspm"),
            UnknownPayload(200, True, b"\x01\x02"),
            NotifyPayload(NotifyType.AUTHENTICATION_FAILED, critical=True),
        ),
    )


def all_messages():
    """(name, Message) pairs covering every exchange shape; all well-formed."""
    out = [
        ("sa_init_request", sa_init_request()),
        ("sa_init_response", sa_init_response()),
        ("sa_init_invalid_ke", sa_init_invalid_ke()),
        ("sa_init_cookie_retry", sa_init_cookie_retry()),
        ("ike_auth_sk", encrypted_message(ExchangeType.IKE_AUTH, 1, PayloadType.IDi)),
        (
            "informational_empty_sk",
            encrypted_message(ExchangeType.INFORMATIONAL, 2, PayloadType.NONE),
        ),
        ("unknown_payloads", unknown_payload_message()),
    ]
    out += [(f"skf_{i}", m) for i, m in enumerate(fragment_messages())]
    return out


def all_inner_chains():
    """(name, payload tuple) pairs of SK contents."""
    out = [
        ("auth_request", auth_request_inner()),
        ("auth_response", auth_response_inner()),
        ("create_child", create_child_inner()),
        ("ike_rekey", ike_rekey_inner()),
    ]
    out += [(f"eap_{i}", c) for i, c in enumerate(eap_inners())]
    out += [(f"informational_{i}", c) for i, c in enumerate(informational_inners())]
    return out
