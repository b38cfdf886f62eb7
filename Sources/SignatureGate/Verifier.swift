import CryptoPrimitives
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks a file's signatures against a ``TrustPolicy``.
///
/// The file is read once: SHA-256 (and BLAKE2b-512 when a prehashed minisign signature needs it, in the same pass)
/// is computed and reused for every signature. Verification returns a ``VerificationResult``; it throws only when
/// the file cannot be read.
public struct Verifier: Sendable {
    public var policy: TrustPolicy

    public init(policy: TrustPolicy) {
        self.policy = policy
    }

    /// The digests the given signatures need: SHA-256 for cosign signatures, bundles and torrent-embedded signatures
    /// (and always when `alwaysSHA256`, for the audit log), BLAKE2b-512 for prehashed minisign signatures.
    public static func needs(for signatures: [DetachedSignature], alwaysSHA256: Bool = true) -> FileDigests.Needs {
        var needs = FileDigests.Needs(sha256: alwaysSHA256, blake2b512: false)
        for signature in signatures {
            if signature.expectedSHA256 != nil { needs.sha256 = true }
            switch signature.content {
            case .cosign, .bundle: needs.sha256 = true
            case .minisign(let sig): if sig.algorithm == .prehashed { needs.blake2b512 = true }
            }
        }
        return needs
    }

    /// Hashes the file at `fd` once and checks `signatures`.
    ///
    /// - Parameters:
    ///   - alwaysSHA256: compute SHA-256 even when no signature needs it (the gate's audit log records it).
    ///   - bypassingPageCache: read with `O_DIRECT` where possible (see ``FileDigests``).
    /// - Returns: the result and the digests that were computed (for the audit log).
    /// - Throws: ``SignatureGateError`` with code `.io` if the file cannot be read.
    public func verify(
        fileDescriptor fd: Int32,
        path: String,
        signatures: [DetachedSignature],
        alwaysSHA256: Bool = true,
        bypassingPageCache: Bool = false
    ) throws(SignatureGateError) -> (VerificationResult, FileDigests) {
        let needs = Self.needs(for: signatures, alwaysSHA256: alwaysSHA256)
        let digests = try FileDigests.compute(
            fileDescriptor: fd, needs: needs, path: path, bypassingPageCache: bypassingPageCache)
        return (verify(digests: digests, fileDescriptor: fd, path: path, signatures: signatures), digests)
    }

    /// Checks signatures against digests taken earlier of the file open at `fd` (read again only for a legacy
    /// minisign signature, which signs the whole file).
    public func verify(digests: FileDigests, fileDescriptor fd: Int32, path: String, signatures: [DetachedSignature])
        -> VerificationResult
    {
        verify(digests: digests, signatures: signatures) { () throws(SignatureGateError) -> [UInt8] in
            try FileDigests.readAll(fileDescriptor: fd, limit: policy.maxLegacyMessageBytes, path: path)
        }
    }

    /// Opens `path` (no final symlink) and verifies it.
    public func verify(path: String, signatures: [DetachedSignature], alwaysSHA256: Bool = true)
        throws(SignatureGateError) -> (VerificationResult, FileDigests)
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SignatureGateError(.io, path, "cannot open: \(ErrnoText.of())") }
        defer { close(fd) }
        return try verify(fileDescriptor: fd, path: path, signatures: signatures, alwaysSHA256: alwaysSHA256)
    }

    /// Checks signatures against precomputed digests.
    ///
    /// - Parameters:
    ///   - digests: the file's digests (SHA-256 for cosign/bundles, BLAKE2b-512 for prehashed minisign).
    ///   - signatures: every signature found for the file.
    ///   - message: returns the whole file, for legacy minisign signatures only (bounded by the policy).
    public func verify(
        digests: FileDigests,
        signatures: [DetachedSignature],
        message: () throws(SignatureGateError) -> [UInt8]
    ) -> VerificationResult {
        let required = max(policy.requiredSigners, 0)
        if signatures.isEmpty {
            return required == 0 ? .verified([]) : .rejected(.missingSignature)
        }
        // No trusted key and nothing required (`leech --allow-unsigned`): there is nothing to check a signature
        // against, so present signatures are not checked either; the file passes unsigned.
        if required == 0 && policy.keys.isEmpty { return .verified([]) }
        var signers: [Signer] = []
        var failures: [RejectionReason] = []
        var cachedMessage: [UInt8]?
        var messageFailure: String?
        for signature in signatures {
            let outcome = check(signature, digests: digests) { () -> [UInt8]? in
                if cachedMessage == nil, messageFailure == nil {
                    do { cachedMessage = try message() } catch { messageFailure = "\(error)" }
                }
                return cachedMessage
            }
            switch outcome {
            case .success(let signer):
                if !signers.contains(where: { $0.keyID == signer.keyID }) { signers.append(signer) }
            case .failure(let reason):
                failures.append(reason)
            }
        }
        // With `requiredSigners == 0` an unsigned file passes, but a present signature that fails still refuses it.
        let passes = required == 0 ? (failures.isEmpty || !signers.isEmpty) : signers.count >= required
        if passes { return .verified(signers) }
        if !signers.isEmpty {
            return .rejected(.notEnoughSigners(signers: signers.map(\.keyID), required: required))
        }
        let worst = failures.max { $0.severity < $1.severity } ?? .missingSignature
        return .rejected(worst)
    }

    private enum Outcome {
        case success(Signer)
        case failure(RejectionReason)
    }

    private func check(
        _ signature: DetachedSignature,
        digests: FileDigests,
        message: () -> [UInt8]?
    ) -> Outcome {
        let origin = signature.origin
        if let expected = signature.expectedSHA256, expected != digests.sha256 {
            return .failure(.digestMismatch(origin: origin))
        }
        switch signature.content {
        case .cosign(let bytes):
            guard let sha256 = digests.sha256 else {
                return .failure(.refusedByPolicy(origin: origin, detail: "no SHA-256"))
            }
            return checkCosign(bytes, sha256: sha256, hint: nil, origin: origin, format: .cosign, notes: [])
        case .bundle(let bundle):
            return checkBundle(bundle, digests: digests, origin: origin)
        case .minisign(let sig):
            return checkMinisign(sig, digests: digests, origin: origin, message: message)
        }
    }

    private func checkCosign(
        _ signature: [UInt8],
        sha256: [UInt8],
        hint: String?,
        origin: String,
        format: SignatureFormat,
        notes: [String]
    ) -> Outcome {
        // The hint (sigstore `publicKey.hint`) is advisory: it narrows the search when it names a trusted key; when it
        // names none, every trusted key is tried and a failure is reported as an untrusted key.
        var candidates = policy.cosignKeys
        var unmatchedHint: String?
        if let hint {
            let named = candidates.filter { $0.sigstoreHint == hint }
            if named.isEmpty {
                unmatchedHint = Base64.decode(lenient: hint).map { "sha256:" + Hex.encode($0) } ?? hint
            } else {
                candidates = named
            }
        }
        if candidates.isEmpty {
            return .failure(.untrustedKey(origin: origin, keyID: unmatchedHint ?? "unknown (no cosign key is trusted)"))
        }
        for key in candidates where key.verify(signature: signature, sha256: sha256) {
            return .success(Signer(keyID: TrustedKey.cosign(key).keyID, format: format, origin: origin, notes: notes))
        }
        if let unmatchedHint { return .failure(.untrustedKey(origin: origin, keyID: unmatchedHint)) }
        let keyID: String? = candidates.count == 1 ? TrustedKey.cosign(candidates[0]).keyID : nil
        return .failure(.invalidSignature(origin: origin, keyID: keyID))
    }

    private func checkBundle(
        _ bundle: SigstoreBundle, digests: FileDigests, origin: String
    )
        -> Outcome
    {
        guard let sha256 = digests.sha256 else {
            return .failure(.refusedByPolicy(origin: origin, detail: "no SHA-256"))
        }
        let tlog = bundle.hasTransparencyLogEntries ? "transparency log entry NOT checked" : "no transparency log entry"
        let notes = ["\(bundle.mediaType): signature checked with a trusted key only; \(tlog)"]
        switch bundle.content {
        case .messageSignature(let algorithm, let digest, let signature):
            if let algorithm, algorithm != "SHA2_256" {
                return .failure(
                    .refusedByPolicy(origin: origin, detail: "message digest algorithm \(algorithm) (only SHA2_256)")
                )
            }
            if let digest, digest != sha256 { return .failure(.digestMismatch(origin: origin)) }
            return checkCosign(
                signature, sha256: sha256, hint: bundle.publicKeyHint, origin: origin,
                format: .sigstoreBundle, notes: notes)
        case .dsse(let payloadType, let payload, let signatures):
            let pae = SigstoreBundle.preAuthenticationEncoding(payloadType: payloadType, payload: payload)
            let paeDigest = DigestAlgorithm.sha256.hash(pae)
            var last: RejectionReason = .invalidSignature(origin: origin, keyID: nil)
            for sig in signatures {
                switch checkCosign(
                    sig, sha256: paeDigest, hint: bundle.publicKeyHint, origin: origin,
                    format: .sigstoreBundle, notes: notes)
                {
                case .success(let signer):
                    // The envelope is authentic; it must also name this file.
                    let subjects = SigstoreBundle.inTotoSHA256Subjects(payload)
                    guard subjects.contains(Hex.encode(sha256)) else {
                        return .failure(.digestMismatch(origin: origin))
                    }
                    return .success(signer)
                case .failure(let reason):
                    last = reason
                }
            }
            return .failure(last)
        }
    }

    private func checkMinisign(
        _ sig: MinisignSignature,
        digests: FileDigests,
        origin: String,
        message: () -> [UInt8]?
    ) -> Outcome {
        guard let key = policy.minisignKeys.first(where: { $0.keyID == sig.keyID }) else {
            return .failure(.untrustedKey(origin: origin, keyID: "minisign:\(sig.keyID)"))
        }
        let keyID = TrustedKey.minisign(key).keyID
        let signed: [UInt8]
        switch sig.algorithm {
        case .prehashed:
            guard let blake = digests.blake2b512 else {
                return .failure(.refusedByPolicy(origin: origin, detail: "BLAKE2b-512 of the file was not computed"))
            }
            signed = blake
        case .legacy:
            if policy.requirePrehashedMinisign {
                return .failure(
                    .refusedByPolicy(
                        origin: origin,
                        detail: "legacy (non-prehashed) minisign signature; the policy requires prehashed"))
            }
            guard digests.size <= Int64(policy.maxLegacyMessageBytes), let bytes = message() else {
                return .failure(
                    .refusedByPolicy(
                        origin: origin,
                        detail:
                            "legacy minisign signature over a file larger than \(policy.maxLegacyMessageBytes) bytes; "
                            + "sign it prehashed (minisign -S without -l)"))
            }
            signed = bytes
        }
        guard Ed25519.verify(signature: sig.signature, message: signed, publicKey: key.key) else {
            return .failure(.invalidSignature(origin: origin, keyID: keyID))
        }
        guard sig.globalSignatureValid(with: key) else {
            return .failure(.invalidTrustedComment(origin: origin, keyID: keyID))
        }
        return .success(
            Signer(
                keyID: keyID, format: .minisign, origin: origin,
                notes: ["trusted comment: \(sig.trustedComment)"]))
    }
}
