// Tests for the SignatureGate module.
