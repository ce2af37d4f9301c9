//! An object sealed or opened a chunk at a time, so a 4 GB original never sits in memory.

use crate::{
    CHUNK, CHUNK_LOG2, HEADER, KEY_ID, MAGIC, ObjectCipher, PREFIX, TAG, VERSION, Vault, VaultError, chunk_count,
};

/// Seals one object's chunks. Each chunk is sealed on its own, so a multipart upload can seal
/// the parts it still lacks after a restart, and they match what was sent before.
pub struct Sealer<'a> {
    cipher: ObjectCipher<'a>,
    header: [u8; HEADER],
    /// The header, then the object's name: what every chunk is bound to.
    aad: Vec<u8>,
    chunks: u64,
    len: u64,
}

impl<'a> Sealer<'a> {
    pub(crate) fn new(vault: &'a Vault, name: &str, prefix: [u8; PREFIX], len: u64) -> Sealer<'a> {
        let header = vault.header(&prefix);
        let mut aad = header.to_vec();
        aad.extend_from_slice(name.as_bytes());
        let cipher = vault.object_cipher(VERSION, &prefix).expect("this build seals in its own format");
        Sealer { cipher, header, aad, chunks: chunk_count(len), len }
    }

    /// The bytes before the first chunk.
    pub fn header(&self) -> &[u8; HEADER] {
        &self.header
    }

    /// How many chunks the object has.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The plaintext bytes of chunk `index`: `CHUNK`, the last one what is left.
    pub fn chunk_len(&self, index: u64) -> usize {
        if index + 1 < self.chunks { CHUNK } else { (self.len - index * CHUNK as u64) as usize }
    }

    /// Where chunk `index` starts in the sealed object.
    pub fn sealed_offset(index: u64) -> u64 {
        HEADER as u64 + index * (CHUNK + TAG) as u64
    }

    /// Chunk `index` of the plaintext, sealed and appended to `out` (the same bytes as
    /// [`Sealer::seal_chunk`], without a buffer of its own).
    pub fn seal_chunk_into(&self, index: u64, plain: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(plain.len(), self.chunk_len(index), "chunk {index} of {}", self.chunks);
        let at = out.len();
        out.extend_from_slice(plain);
        let tag = self.cipher.seal_in_place(&self.aad, index, index + 1 == self.chunks, &mut out[at..]);
        out.extend_from_slice(&tag);
    }

    /// Chunk `index` of the plaintext (`chunk_len(index)` bytes), sealed.
    pub fn seal_chunk(&self, index: u64, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + TAG);
        self.seal_chunk_into(index, plain, &mut out);
        out
    }
}

/// Opens an object as its bytes arrive: [`Opener::push`] returns the plaintext of every chunk
/// known not to be the last, [`Opener::finish`] the last one — so a cut object is refused at
/// its end, never taken for a shorter whole one.
pub struct Opener<'a> {
    vault: &'a Vault,
    name: Vec<u8>,
    /// The object's cipher and the chunks' associated data, once the header has arrived.
    header: Option<(ObjectCipher<'a>, Vec<u8>)>,
    buffer: Vec<u8>,
    index: u64,
}

impl<'a> Opener<'a> {
    pub(crate) fn new(vault: &'a Vault, name: &str) -> Opener<'a> {
        Opener { vault, name: name.as_bytes().to_vec(), header: None, buffer: Vec::new(), index: 0 }
    }

    /// Takes the next bytes of the object; returns the plaintext they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.buffer.extend_from_slice(bytes);
        if self.header.is_none() {
            self.read_header()?;
        }
        let Some((cipher, aad)) = &self.header else { return Ok(Vec::new()) };
        let step = CHUNK + TAG;
        let mut out = Vec::new();
        let mut at = 0;
        // A whole chunk is known not to be the last only once a byte after it has arrived.
        while self.buffer.len() - at > step {
            out.extend(cipher.open(aad, self.index, false, &self.buffer[at..at + step])?);
            at += step;
            self.index += 1;
        }
        self.buffer.drain(..at);
        Ok(out)
    }

    /// The end of the object: the last chunk's plaintext.
    pub fn finish(mut self) -> Result<Vec<u8>, VaultError> {
        self.read_header()?;
        let Some((cipher, aad)) = &self.header else {
            return Err(VaultError::Damaged("it ends before its header".into()));
        };
        if self.buffer.len() < TAG {
            return Err(VaultError::Damaged("it ends in the middle of a chunk".into()));
        }
        cipher.open(aad, self.index, true, &self.buffer)
    }

    fn read_header(&mut self) -> Result<(), VaultError> {
        if self.header.is_some() {
            return Ok(());
        }
        let seen = self.buffer.len().min(MAGIC.len());
        if self.buffer[..seen] != MAGIC[..seen] {
            return Err(VaultError::NotSealed);
        }
        if self.buffer.len() < HEADER {
            return Ok(());
        }
        let h = &self.buffer[..HEADER];
        let cipher = match self.vault.object_cipher(h[4], &prefix_of(h)) {
            Some(c) if h[5] == CHUNK_LOG2 => c,
            _ => return Err(VaultError::Damaged(format!("unknown format {}.{} (a newer Chairside?)", h[4], h[5]))),
        };
        let key_id = &h[6..6 + KEY_ID];
        if key_id != self.vault.key_id_bytes() {
            return Err(VaultError::OtherKey { expected: self.vault.key_id(), found: hex::encode(key_id) });
        }
        let mut aad = h.to_vec();
        aad.extend_from_slice(&self.name);
        self.header = Some((cipher, aad));
        self.buffer.drain(..HEADER);
        Ok(())
    }
}

fn prefix_of(header: &[u8]) -> [u8; PREFIX] {
    let mut prefix = [0u8; PREFIX];
    prefix.copy_from_slice(&header[6 + KEY_ID..HEADER]);
    prefix
}

#[cfg(test)]
mod tests {
    use crate::{CHUNK, ClinicKey, Sealer, Vault};
    use sha2::{Digest, Sha256};

    #[test]
    fn chunks_sealed_in_any_order_and_opened_in_pieces_of_any_size_give_the_object_back() {
        let vault = Vault::new(&ClinicKey::from_bytes([3; 32]));
        let plain: Vec<u8> = (0..5 * CHUNK + 999).map(|i| (i % 253) as u8).collect();
        let sha: [u8; 32] = Sha256::digest(&plain).into();
        let sealer = vault.sealer("originals/x", &sha, plain.len() as u64);
        // Sealed last chunk first, as a resumed upload might.
        let mut parts: Vec<(u64, Vec<u8>)> = (0..sealer.chunks())
            .rev()
            .map(|i| {
                let start = (i * CHUNK as u64) as usize;
                (i, sealer.seal_chunk(i, &plain[start..start + sealer.chunk_len(i)]))
            })
            .collect();
        parts.sort_by_key(|(i, _)| *i);
        let mut sealed = sealer.header().to_vec();
        for (i, part) in &parts {
            assert_eq!(sealed.len() as u64, Sealer::sealed_offset(*i));
            sealed.extend_from_slice(part);
        }
        assert_eq!(sealed, vault.seal("originals/x", &plain), "the same bytes as sealed whole");
        for piece in [1, 7, 4096, CHUNK + 16, sealed.len()] {
            let mut opener = vault.opener("originals/x");
            let mut out = Vec::new();
            for bytes in sealed.chunks(piece) {
                out.extend(opener.push(bytes).expect("push"));
            }
            out.extend(opener.finish().expect("finish"));
            assert!(out == plain, "pieces of {piece}");
        }
    }
}
