#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The command's one writer to standard error: unbuffered writes to file descriptor 2, so messages appear in order
/// with progress lines and before the process exits.
enum StandardError {
    /// Writes `text` as it is (progress lines use `\r` and no newline).
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                done += n
            }
        }
    }

    /// Writes one line (adds the newline if missing).
    static func line(_ message: String) {
        write(message.hasSuffix("\n") ? message : message + "\n")
    }

    /// `swtorrent COMMAND: message`, the form every subcommand's messages take.
    static func report(_ command: String, _ message: String) {
        line("swtorrent \(command): \(message)")
    }
}
