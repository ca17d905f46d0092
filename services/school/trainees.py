"""Staff's actions on a trainee's roster record, for the console and the CLI alike: correct the
phone or the company, and reveal the full ID card number to an admin; each recorded in the audit
log in its own transaction."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from models import Trainee
from services import ServiceError
from services.db import found, transaction
from services.identity import audit
from services.identity.pii import PiiCipher, mask_phone, normalize_phone
from services.school.imports import cells
from services.school.imports.roster import COMPANY_MAX


class TraineeError(ServiceError):
    pass


def edit_contact(session: Session, trainee_id: int, phone: str, company: str, actor: str) -> list[str]:
    """Changes phone and company (an empty phone keeps the number: the page shows it masked only);
    returns the changes in words (masked), recorded in the audit log."""
    with transaction(session):
        trainee = found(session, Trainee, trainee_id, "没有这名学员", TraineeError)
        phone = normalize_phone(phone) if phone.strip() else trainee.phone
        company = cells.text(company)
        if len(company) > COMPANY_MAX:
            raise TraineeError(f"工作单位超过{COMPANY_MAX}个字")
        changes = []
        if phone != trainee.phone:
            changes.append(f"手机号：{mask_phone(trainee.phone)} → {mask_phone(phone)}")
        if company != trainee.company:
            changes.append(f"工作单位：{trainee.company or '（空）'} → {company or '（空）'}")
        if changes:
            trainee.phone, trainee.company = phone, company
            audit.record(session, actor, "trainee_edited", f"trainee:{trainee.id}",
                         f"{trainee.name}：" + "；".join(changes))
    return changes


@dataclass(frozen=True)
class Revealed:
    trainee: Trainee
    id_card: str


def reveal_id_card(session: Session, cipher: PiiCipher, trainee_id: int, actor: str) -> Revealed:
    """The full ID card number, for an admin; the reveal is committed to the audit log before the
    number is returned."""
    with transaction(session):
        trainee = found(session, Trainee, trainee_id, "没有这名学员", TraineeError)
        audit.record(session, actor, "id_card_revealed", f"trainee:{trainee.id}",
                     f"查看了 {trainee.name}（{trainee.id_card_mask}）的完整身份证号")
    return Revealed(trainee, cipher.decrypt(trainee.id_card_enc))
