"""Embeddings at rest: AES-256-GCM with a key derived from PII_KEY (HKDF, its own `info`, as the
ID card key in services/identity/pii.py), bound to the row's attempt and moment so that a
ciphertext copied onto another row doesn't decrypt."""
from __future__ import annotations

import os

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.exam.faces.engine import VECTOR_SIZE


class FaceVault:
    def __init__(self, secret: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"wxapp face embedding v1").derive(secret.encode())
        self._aead = AESGCM(key)

    @staticmethod
    def _label(attempt_id: int, moment: str) -> bytes:
        return f"face:{attempt_id}:{moment}".encode()

    def seal(self, vector: np.ndarray, attempt_id: int, moment: str) -> bytes:
        nonce = os.urandom(12)
        data = np.asarray(vector, dtype="<f4").tobytes()
        return nonce + self._aead.encrypt(nonce, data, self._label(attempt_id, moment))

    def open(self, token: bytes, attempt_id: int, moment: str) -> np.ndarray:
        data = self._aead.decrypt(token[:12], token[12:], self._label(attempt_id, moment))
        vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if vector.shape != (VECTOR_SIZE,):
            raise ValueError("not a face embedding")
        return vector
