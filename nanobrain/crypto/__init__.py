"""Keys and ciphers for data at rest: the key ring (AES-GCM with rotation) and the chunked
stream cipher for stored files. Below `store`, which seals rows and files with them."""
