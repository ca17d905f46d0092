"""Every stored embedding in one float32 matrix, for the search across trainees.

A search is one matrix-vector product: |m - q|² = |m|² - 2 m·q + |q|², with |m|² kept. 100,000
embeddings are 51 MB and a search takes milliseconds (bench/faces.py). The matrix is derived
data, rebuilt from the database at will: `refresh` adds the rows stored since the last call and
drops the rows deleted since (retention, a trainee deleted), so a long-running scheduler stays
in step with every other process's writes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.faces import FaceEmbedding
from services.exam.faces.engine import VECTOR_SIZE
from services.exam.faces.vault import FaceVault


@dataclass(frozen=True)
class Match:
    row_id: int
    attempt_id: int
    trainee_id: int
    distance: float


class FaceIndex:
    def __init__(self) -> None:
        self.row_ids = np.zeros(0, dtype=np.int64)
        self.attempt_ids = np.zeros(0, dtype=np.int64)
        self.trainee_ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, VECTOR_SIZE), dtype=np.float32)
        self.norms = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.row_ids)

    def add(self, row_ids: np.ndarray, attempt_ids: np.ndarray, trainee_ids: np.ndarray,
            vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, VECTOR_SIZE)
        self.row_ids = np.concatenate([self.row_ids, np.asarray(row_ids, dtype=np.int64)])
        self.attempt_ids = np.concatenate([self.attempt_ids, np.asarray(attempt_ids, dtype=np.int64)])
        self.trainee_ids = np.concatenate([self.trainee_ids, np.asarray(trainee_ids, dtype=np.int64)])
        self.matrix = np.concatenate([self.matrix, vectors])
        self.norms = np.concatenate([self.norms, np.einsum("ij,ij->i", vectors, vectors)])

    def keep(self, mask: np.ndarray) -> None:
        self.row_ids, self.attempt_ids, self.trainee_ids = self.row_ids[mask], self.attempt_ids[mask], \
            self.trainee_ids[mask]
        self.matrix, self.norms = self.matrix[mask], self.norms[mask]

    def refresh(self, session: Session, vault: FaceVault) -> None:
        """In step with the table: new rows decrypted and added, deleted rows dropped."""
        stored = np.fromiter(session.scalars(select(FaceEmbedding.id).where(FaceEmbedding.vector_enc.is_not(None))),
                             dtype=np.int64)
        if len(self.row_ids):
            self.keep(np.isin(self.row_ids, stored))
        new = np.setdiff1d(stored, self.row_ids, assume_unique=True)
        for start in range(0, len(new), 1000):
            chunk = [int(i) for i in new[start:start + 1000]]
            rows = session.execute(select(FaceEmbedding.id, FaceEmbedding.attempt_id, FaceEmbedding.trainee_id,
                                          FaceEmbedding.moment, FaceEmbedding.vector_enc)
                                   .where(FaceEmbedding.id.in_(chunk))).all()
            self.add(np.array([r.id for r in rows]), np.array([r.attempt_id for r in rows]),
                     np.array([r.trainee_id for r in rows]),
                     np.array([vault.open(r.vector_enc, r.attempt_id, r.moment) for r in rows]))

    def distances(self, vector: np.ndarray) -> np.ndarray:
        """The distance of `vector` to every row, in row order."""
        q = np.asarray(vector, dtype=np.float32)
        squared = self.norms - 2.0 * (self.matrix @ q) + float(q @ q)
        return np.sqrt(np.maximum(squared, 0.0))

    def near(self, vector: np.ndarray, threshold: float) -> list[Match]:
        """The rows within `threshold` of `vector`, nearest first."""
        if not len(self.row_ids):
            return []
        found = self.distances(vector)
        hits = np.flatnonzero(found <= threshold)
        hits = hits[np.argsort(found[hits])]
        return [Match(int(self.row_ids[i]), int(self.attempt_ids[i]), int(self.trainee_ids[i]), float(found[i]))
                for i in hits]

    def of_trainee(self, trainee_id: int) -> np.ndarray:
        return np.flatnonzero(self.trainee_ids == trainee_id)
