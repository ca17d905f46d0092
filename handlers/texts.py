"""The Chinese texts trainees read in the chat, kept together so they read as one voice."""
from __future__ import annotations

from handlers.router import Context
from services.study.learning import ClassLine, CourseLine, ExamState, hours_text
from services.timeutil import local_text


def link(url: str, words: str) -> str:
    return f'<a href="{url}">{words}</a>'


def bind_prompt(ctx: Context) -> str:
    return (
        "您还没有完成认证，请先点击"
        f"{link(ctx.links.bind, '认证登录')}，"
        "填写报名时预留的手机号和本人身份证号。"
    )


def welcome_new(ctx: Context) -> str:
    return (
        "欢迎关注苏州市智信建设职业培训学校！\n"
        "二级注册建造师继续教育的学习、考试和通知都在这里完成。\n\n"
        f"首次使用请先点击{link(ctx.links.bind, '认证登录')}，"
        "填写报名时预留的手机号（可询问公司经办人）和本人身份证号。"
    )


def welcome_back(ctx: Context, name: str) -> str:
    return f"{name}，欢迎回来！\n点击{link(ctx.links.learn, '在线学习')}继续您的课程。"


def learn_link(ctx: Context, name: str) -> str:
    return f"{name}，您好！\n请点击进入{link(ctx.links.learn, '在线学习')}。"


def course_list(ctx: Context, name: str, lines: list[CourseLine], exam: ExamState) -> str:
    if not lines:
        return f"{name}，您好！您名下暂无报名的专业，请联系公司经办人或学校核实报名信息。\n学校：{ctx.contact}"
    rows = [f"{name}，您的课程："]
    for line in lines:
        title = "公共课" if line.kind == "public" else f"专业课·{line.major}"
        rows.append(f"· {title}（{line.name}）：已修 {hours_text(line.hours_earned)} / {hours_text(line.hours_required)} 学时")
    rows += exam_lines(exam)
    rows.append(f"\n{link(ctx.links.learn, '进入在线学习')}")
    return "\n".join(rows)


def class_list(name: str, classes: list[ClassLine]) -> str:
    if not classes:
        return f"{name}，您暂未分配班级。开班前学校会通过微信或短信通知您开班时间和领取教材的地点。"
    rows = [f"{name}，您的班级："]
    for c in classes:
        rows.append(f"· {c.name}（{c.major}）\n  开班时间：{local_text(c.starts_at)}\n  地点：{c.place}")
    return "\n".join(rows)


def exam_lines(exam: ExamState) -> list[str]:
    """`考试：` then one line per major: its state, best score, or the hours still missing."""
    if not exam.majors:
        return [f"考试：{exam.label}"]
    return ["考试（每个专业一场）："] + [f"· {m.major}：{m.label}" for m in exam.majors]


def exam_text(ctx: Context, name: str, exam: ExamState) -> str:
    """Each major's exam; then where to go: the exam while one is open, the certificate after a pass."""
    rows = [f"{name}，您的考试成绩："] + exam_lines(exam)[1:] if exam.majors else [f"{name}，您的考试：{exam.label}"]
    if not exam.passed:
        rows.append("考试为在线答题，60分合格，未合格可免费补考。")
    ways = [link(ctx.links.exam, "进入考试")] if exam.open else []
    if exam.passed or any(m.state == "passed" for m in exam.majors):
        ways.append(link(ctx.links.certificates, "查看学时证明"))
    return "\n".join(rows + (ways or [link(ctx.links.learn, "进入在线学习")]))


def help_text(ctx: Context) -> str:
    return (
        "【使用帮助】\n"
        f"1. 首次使用：点击菜单“在线学习”，按提示{link(ctx.links.bind, '认证登录')}"
        "（手机号须为报名时预留的号码，可询问公司经办人）。\n"
        "2. 学习：公共课16学时（多个专业只学一次），专业课每个专业40学时，考试4学时。"
        "视频看完且课后练习全部答对才计学时；请勿多开页面播放。\n"
        "3. 播放中会随机弹出考勤二维码，请用本人微信扫码确认。\n"
        "4. 考试60分合格，未合格可免费补考。\n"
        "5. 手机号变更、换了微信需重新绑定等问题，请联系学校。\n"
        f"联系方式：{ctx.contact}\n"
        f"{keyword_list()}"
    )


def already_bound(ctx: Context, name: str) -> str:
    return (f"您已认证为：{name}。如需更换绑定的微信，请联系学校：{ctx.contact}\n"
            f"{link(ctx.links.learn, '进入在线学习')}")


def certificates_text(ctx: Context, name: str, certificates: list[tuple[str, str]], exam: ExamState) -> str:
    """学时证明 (MY_CERTIFICATES, 证书): each certificate's major and number, what is still missing."""
    done = {major for major, _ in certificates}
    pending = [m for m in exam.majors if m.state != "passed" and m.major not in done]
    if certificates:
        rows = [f"{name}，您的学时证明："] + [f"· {major}：编号 {number}" for major, number in certificates]
        if pending:
            rows.append("尚未取得：")
    else:
        rows = [f"{name}，您还没有学时证明。学完课程并通过考试（60分合格）后即可取得。"]
    rows += [f"· {m.major}：{m.label}" for m in pending]
    rows.append(f"点击{link(ctx.links.certificates, '我的学时证明')}查看、下载和打印（PDF）。")
    return "\n".join(rows)


# The keywords a trainee may reply instead of using the menu, as the help text lists them.
KEYWORDS: list[str] = ["课程", "学时", "考试", "证书", "班级", "绑定", "客服"]


def keyword_list() -> str:
    return "回复关键词可直接查询：" + "、".join(KEYWORDS)


def not_understood(ctx: Context) -> str:
    return "抱歉，没有看懂您的消息。请使用下方菜单，或回复关键词。\n\n" + help_text(ctx)


def unavailable(ctx: Context) -> str:
    """The answer while the database can't be reached: nothing of the trainee's can be looked up."""
    return (
        "系统暂时繁忙，无法查询您的学习信息，请稍后再试。\n"
        f"如有急事请联系学校：{ctx.contact}"
    )


def contact_text(ctx: Context) -> str:
    return (
        f"【联系学校】\n{ctx.contact}\n"
        "认证登录、学时、考勤和考试的问题都可以咨询；手机号变更或更换微信请带上身份证号。\n"
        f"{keyword_list()}"
    )
