// Engine: sessions, storage, piece picker, choker, tracker client and peer connections.
