// Identity: node keys (Ed25519), the allowlist file, and signed announces.
