/// Where a node keeps state that outlives one command: the release-version ledger (``VersionLedger``).
public enum StateDirectory {
    /// The default: systemd's `$STATE_DIRECTORY` (its first entry) when set; `/var/lib/swtorrent` for root;
    /// otherwise `$XDG_STATE_HOME/swtorrent`, or `$HOME/.local/state/swtorrent`. Nil when none applies (no `HOME`).
    public static func `default`(environment: [String: String], isRoot: Bool) -> String? {
        if let systemd = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !systemd.isEmpty {
            return String(systemd)
        }
        if isRoot { return "/var/lib/swtorrent" }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/swtorrent" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.local/state/swtorrent" }
        return nil
    }
}
