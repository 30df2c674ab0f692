"""The validated configuration model: schema (schema.py), UCI reader (uci.py), loaders and the
frozen ServerConfig (config.py, convert.py, validate.py), identities, proposals, the address
pool and PSK strength. Core room: standard library, `cryptography` and the other core rooms only.
"""
