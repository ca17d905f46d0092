"""Writes the sample question bank `services/exam/sample_bank.xlsx` (the demo's, and staff's model).

Each pool gets true and false statements about its field; from them come 判断 questions (one per
statement), 单选 (one true among three false) and 多选 (two or three true among five). Run it
again after editing the statements: `.venv/bin/python scripts/make_exam_sample.py`.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parents[1] / "services" / "exam" / "sample_bank.xlsx"
HEADER = ["专业", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案", "解析"]
COUNTS = {"公共": (10, 4, 8), "major": (20, 9, 16)}  # 单选, 多选, 判断 per pool: above what a paper draws

# (true statement, false statement) per pool.
POOLS = {
    "公共": [
        ("建设工程实行施工总承包的，由总承包单位对施工现场的安全生产负总责", "建设工程实行施工总承包的，由分包单位对施工现场的安全生产负总责"),
        ("生产经营单位应当对从业人员进行安全生产教育和培训", "生产经营单位可以让未经安全生产培训的人员直接上岗作业"),
        ("注册建造师应当按规定参加继续教育", "注册建造师取得证书后不再需要参加继续教育"),
        ("危险性较大的分部分项工程应当编制专项施工方案", "危险性较大的分部分项工程无需编制专项施工方案"),
        ("施工单位应当为施工现场从事危险作业的人员办理意外伤害保险", "意外伤害保险费应当由从业人员个人缴纳"),
        ("建设单位不得压缩合同约定的工期", "建设单位可以随意压缩合同约定的工期"),
        ("绿色施工应当节约资源、减少对环境的负面影响", "绿色施工只关注施工进度，不考虑环境影响"),
        ("发生生产安全事故后，事故现场有关人员应当立即报告本单位负责人", "发生生产安全事故后，应当先清理现场再报告"),
    ],
    "建筑工程": [
        ("混凝土浇筑后应及时进行养护", "混凝土浇筑后无需养护即可拆模受力"),
        ("深基坑工程应进行基坑监测", "深基坑开挖期间不需要对周边环境进行监测"),
        ("装配式建筑的预制构件进场时应进行质量验收", "预制构件进场后可不经验收直接吊装"),
        ("脚手架搭设完毕应经验收合格后方可使用", "脚手架搭设完毕即可投入使用，无需验收"),
        ("钢筋隐蔽工程在浇筑混凝土前应进行验收", "钢筋隐蔽工程可在浇筑混凝土后补做验收"),
        ("屋面防水工程完工后应进行蓄水或淋水试验", "屋面防水工程完工后不做任何试验即可交付"),
        ("高处作业人员应正确佩戴安全带", "高处作业时安全带可以不系挂"),
        ("大体积混凝土施工应控制内外温差", "大体积混凝土施工无需考虑温度裂缝"),
    ],
    "市政公用工程": [
        ("沥青混合料面层施工应控制摊铺和碾压温度", "沥青混合料可在任何温度下摊铺碾压"),
        ("给水管道安装完毕应进行水压试验", "给水管道安装完毕无需进行水压试验"),
        ("城市桥梁支架现浇施工前应对支架进行预压", "支架现浇施工前不需要预压支架"),
        ("燃气管道穿越道路时应加设套管", "燃气管道穿越道路时可直接埋设，无需任何保护"),
        ("沟槽开挖应按规定放坡或支护", "沟槽开挖深度较大时也无需支护"),
        ("城市道路路基应分层填筑、分层压实", "城市道路路基可一次填筑到顶后再压实"),
        ("排水管道闭水试验应在回填前进行", "排水管道闭水试验应在回填完成后才能进行"),
        ("盾构施工应对地表沉降进行监测", "盾构施工对地表沉降没有影响，无需监测"),
    ],
    "机电工程": [
        ("起重吊装作业前应编制吊装方案", "起重吊装作业无需编制吊装方案"),
        ("电气设备的金属外壳应可靠接地", "电气设备的金属外壳不需要接地"),
        ("压力管道安装后应进行压力试验", "压力管道安装后可直接投入运行"),
        ("焊工应持证上岗", "焊接作业不需要焊工持证"),
        ("设备单机试运行应在联动试运行之前完成", "联动试运行应在单机试运行之前进行"),
        ("建筑电气工程的绝缘电阻应测试合格", "电气线路敷设后无需测试绝缘电阻"),
        ("通风管道安装完毕应进行漏风量检测", "通风管道安装完毕无需检测漏风量"),
        ("消防工程竣工后应经验收合格方可使用", "消防工程竣工后可先投入使用再验收"),
    ],
    "公路工程": [
        ("路基填筑应分层进行并逐层压实", "路基填筑可以一次填满后整体压实"),
        ("水泥稳定碎石基层应在规定时间内完成碾压", "水泥稳定碎石基层碾压时间不受限制"),
        ("隧道开挖后应及时进行初期支护", "隧道开挖后可长期不做支护"),
        ("桥梁预应力张拉应采用双控", "预应力张拉只控制伸长量即可"),
        ("高速公路施工应设置规范的交通安全设施", "公路养护施工时可不设置警示标志"),
        ("软土地基应进行沉降观测", "软土地基填筑时无需进行沉降观测"),
        ("隧道施工应进行超前地质预报", "隧道施工不需要任何地质预报"),
        ("沥青路面压实度应检测合格", "沥青路面不需要检测压实度"),
    ],
    "水利水电工程": [
        ("土石坝填筑应分层碾压并检测压实度", "土石坝填筑可以不分层，一次填筑到顶"),
        ("汛期施工应制定度汛方案", "汛期施工无需制定度汛方案"),
        ("混凝土坝浇筑应采取温控措施", "混凝土坝浇筑不需要采取温控措施"),
        ("围堰应满足挡水和防渗要求", "围堰不需要考虑防渗"),
        ("帷幕灌浆应进行压水试验检查", "帷幕灌浆后无需检查灌浆效果"),
        ("爆破作业应由持证人员实施", "爆破作业可由任何工人实施"),
        ("水闸闸门安装后应进行启闭试验", "闸门安装后无需试验即可运行"),
        ("堤防工程施工应清除基础表层杂物", "堤防填筑前无需清基"),
    ],
    "矿业工程": [
        ("井下作业场所应保证通风良好", "井下作业场所不需要通风"),
        ("立井施工应设置安全保护装置", "立井施工不需要安全保护装置"),
        ("爆破后应经检查确认安全方可进入工作面", "爆破后可立即进入工作面作业"),
        ("巷道支护应按设计及时施工", "巷道开挖后可长期不支护"),
        ("矿井应建立瓦斯检查制度", "矿井无需进行瓦斯检查"),
        ("井下电气设备应采用防爆型", "井下可使用普通非防爆电气设备"),
        ("矿山建设工程应进行安全设施设计审查", "矿山建设工程的安全设施无需设计"),
        ("施工排水系统应满足最大涌水量要求", "井下排水能力可以小于正常涌水量"),
    ],
}
LETTERS = "ABCDE"


def rows_for(pool: str, pairs: list[tuple[str, str]]) -> list[list]:
    singles, multis, judges = COUNTS["公共" if pool == "公共" else "major"]
    field = "" if pool == "公共" else pool
    topic = "建设工程法律法规与安全管理" if pool == "公共" else pool
    truths, falsehoods = [p[0] for p in pairs], [p[1] for p in pairs]
    rows = []
    for n in range(singles):
        true, wrong = truths[n % len(truths)], [falsehoods[(n + k) % len(falsehoods)] for k in (1, 2, 3)]
        position = n % 4
        options = wrong[:position] + [true] + wrong[position:]
        rows.append([field, "单选", f"关于{topic}，下列说法正确的是（样题{n + 1}）", *options, None, None,
                     LETTERS[position], true])
    for n, count in zip(range(multis), itertools.cycle((2, 3))):
        picked = [truths[(n + k) % len(truths)] for k in range(count)]
        wrong = [falsehoods[(n + k + 4) % len(falsehoods)] for k in range(5 - count)]
        options = (picked + wrong) if n % 2 else (wrong + picked)
        answer = "".join(LETTERS[options.index(t)] for t in picked)
        rows.append([field, "多选", f"关于{topic}，下列说法正确的有（样题{n + 1}）", *options, None, answer, None])
    statements = [(t, "对") for t in truths] + [(f, "错") for f in falsehoods]
    for n in range(judges):
        text, answer = statements[n % len(statements)]
        rows.append([field, "判断", text, None, None, None, None, None, None, answer, None])
    return rows


def main() -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "题库"
    sheet.append(["二级建造师继续教育考试题库（样题）"])
    sheet.append(HEADER)
    for pool, pairs in POOLS.items():
        for row in rows_for(pool, pairs):
            sheet.append(row)
    book.save(OUT)
    print(f"wrote {OUT} ({sheet.max_row - 2} questions)")


if __name__ == "__main__":
    main()
