"""The online exam (考试): question bank, paper rules, unlock, attempts, grading, photos.

Views, commands and jobs call the few functions named for what a person does:
`bank.import_bank`, `state.exams_for`, `attempts.start_attempt`, `attempts.save_answer`,
`attempts.submit`, `attempts.settle_due`, `staff.void`, `staff.release`.
"""
from services import ServiceError


class ExamError(ServiceError):
    """A refusal shown to the trainee or staff; `status` is the HTTP status a view answers with."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message, status=status)
