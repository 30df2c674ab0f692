"""ikev2d: an IKEv2/IPsec remote-access VPN server for OpenWrt routers."""

__version__ = "0.1.0"
