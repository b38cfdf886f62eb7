// Tests for the PeerWire module.
