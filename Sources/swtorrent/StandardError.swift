import Foundation

/// Writes one line to standard error (adds the newline if missing).
func printToStandardError(_ message: String) {
    let line = message.hasSuffix("\n") ? message : message + "\n"
    FileHandle.standardError.write(Data(line.utf8))
}
