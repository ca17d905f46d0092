"""`flask class create` (CONTRACT §1): a class (班级), recorded."""
from __future__ import annotations

import click

from wxapp.cli._common import actor, by_option, fail, group

class_cli = group("class", help="班级 (classes).")


@class_cli.command("create")
@click.argument("code")
@click.option("--major", required=True, help="专业，如 建筑工程")
@click.option("--name", required=True, help="班级名称")
@click.option("--starts", required=True, help="开班时间（北京时间），如 2027-03-01 09:00 或 2027年3月1日 9:00")
@click.option("--place", required=True, help="上课地点")
@click.option("--force", is_flag=True, help="开班时间已过也创建（补录已开过的班级）")
@by_option()
def class_create(code: str, major: str, name: str, starts: str, place: str, force: bool, by: str | None) -> None:
    """Creates a class (班级); a start in the past is refused unless --force."""
    from services.school.classes import StartInPast, create_class, local_start
    from wxapp.extensions import db

    try:
        training_class, created = create_class(db.session, code, major, name, starts, place, actor(by),
                                               allow_past=force)
    except StartInPast as exc:
        fail(f"{exc.message}。如确需补录已开过的班级，请加 --force")
    state = "已创建班级 " if created else "班级已存在且内容相同，未做修改："
    click.echo(f"{state}{training_class.code}（{training_class.major.name}，{training_class.name}，"
               f"{local_start(training_class)}，{training_class.place}）")
