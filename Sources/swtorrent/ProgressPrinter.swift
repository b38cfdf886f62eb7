import Engine
import Foundation

/// Prints progress: JSON lines on stdout, or one rewritten status line on a terminal.
struct ProgressPrinter: Sendable {
    let json: Bool
    let terminal: Bool

    func show(_ progress: SessionProgress) {
        if json {
            Output.line(ProgressFormat.json(progress))
        } else if terminal {
            StandardError.write("\r\u{1b}[K\(ProgressFormat.line(progress))")
        }
    }
}

/// Lines on standard output written whole (JSON events from several threads never interleave).
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
