"""Identity and access: patients from ESIA, our tokens, proxies, operators, kiosks, one policy layer."""
