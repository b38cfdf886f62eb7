/// What the python3-libtorrent scripts of the interop tests share.
enum Libtorrent {
    /// The session settings of every interop script, as a Python dict literal (scripts add `listen_interfaces` and
    /// `alert_mask`): no DHT, LSD, UPnP or NAT-PMP; several connections per address (every peer is 127.0.0.1 or a
    /// test namespace's address); SSRF mitigation off (it refuses a localhost tracker whose path is not `/announce`,
    /// such as our passkey URLs); TCP only; plain connections preferred, encrypted ones accepted.
    static let sessionSettings =
        "{'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, "
        + "'allow_multiple_connections_per_ip': True, 'ssrf_mitigation': False, 'enable_incoming_utp': False, "
        + "'enable_outgoing_utp': False, 'out_enc_policy': 2, 'in_enc_policy': 1}"
}
