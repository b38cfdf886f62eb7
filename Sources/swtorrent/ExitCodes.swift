import ArgumentParser
import Engine
import Node
import SignatureGate

/// Every exit code the command uses, in one place (Docs/cli.md lists them per subcommand). Libraries return results
/// and typed errors; only this file turns them into numbers.
enum ExitCodes {
    // Shared by every subcommand.
    static let success: Int32 = 0
    /// Runtime failure: I/O, network.
    static let failure: Int32 = 1
    /// Bad arguments, or a malformed input file.
    static let badInput: Int32 = 2

    // seed / leech
    /// seed: the data directory does not hold the torrent; leech: no piece verified for --stall-timeout, or a
    /// magnet link's info dictionary came from no peer.
    static let incomplete: Int32 = 3
    /// leech: interrupted (SIGINT/SIGTERM) before completion.
    static let interrupted: Int32 = 4
    /// leech: the signature gate refused at least one file.
    static let refusedByGate: Int32 = 5
    /// leech: the download was not complete at --deadline (after the manifest refusals' 6-10).
    static let deadline: Int32 = 11

    /// leech MANIFEST: one code per class of manifest refusal (nothing was fetched or released).
    static func of(_ refusal: ManifestRefusal) -> Int32 {
        switch refusal {
        case .signature: 6
        case .expired, .notYetValid: 7
        case .rollback, .belowMinimumVersion: 8
        case .torrentMismatch: 9
        case .attestation: 10
        }
    }

    // make, keygen
    /// The output file (make) or key pair (keygen) exists and --force was not given.
    static let exists: Int32 = 3
    // sign
    /// Wrong or missing password for an encrypted key.
    static let password: Int32 = 3
    // info
    /// A valid torrent that is not supported (v2-only).
    static let unsupported: Int32 = 3

    /// verify: one code per reason a file is refused (the table in Docs/cli.md).
    static func verdict(_ reason: RejectionReason) -> Int32 {
        switch reason {
        case .invalidSignature: 3
        case .digestMismatch: 4
        case .untrustedKey: 5
        case .missingSignature: 6
        case .notEnoughSigners: 7
        case .invalidTrustedComment: 8
        case .refusedByPolicy: 9
        }
    }

    /// A node error: I/O 1, bad input 2, a seed's incomplete data 3, a wrong password 3 (sign only).
    static func of(_ error: NodeError) -> Int32 {
        switch error.code {
        case .io, .signingFailed: failure
        case .malformedInput, .noTrustedKey, .configuration: badInput
        case .incompleteData, .metadataUnavailable: incomplete
        case .password: password
        case .outputExists: exists
        case .interrupted: interrupted
        }
    }

    /// How a transfer's session ended, for seed (stopped is success) and leech (stopped is an interruption).
    static func of(_ outcome: SessionOutcome, seeding: Bool) -> Int32 {
        switch outcome {
        case .complete: success
        case .stopped: seeding ? success : interrupted
        case .stalled: incomplete
        }
    }

    /// Throws the code unless it is success.
    static func exit(_ code: Int32) throws {
        if code != success { throw ExitCode(code) }
    }
}
