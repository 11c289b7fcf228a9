"""Realistic calls, deterministically: the packs' own phrasing mixed with everyday speech.

Each call is 20-40 turns in Chinese (70%) or English (30%), built from a seeded random
generator so the same N and seed always give the same file, byte for byte. Turns are not
drawn from a short list: script lines carry the call's own product, fee, date, names and
numbers, and are mixed with small talk built from word lists, fillers in the middle of
sentences, speech-recognition slips (homophones, lost punctuation, half-width commas) and
the odd traditional character, so nearly every turn of a run is a different string.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PRODUCTS_ZH = [("视频会员", 15), ("定向流量包", 9.9), ("彩铃包", 5), ("云盘会员", 10),
               ("5G畅享包", 19.9), ("来电提醒", 3)]
PRODUCTS_EN = [("Premium Streaming", 9.99), ("Data Plus", 14.99), ("Cloud Backup", 2.99),
               ("Caller Tunes", 1.99), ("Roaming Pass", 19.99)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
NAMES_EN = ["Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Brown", "Lee", "Lopez", "Kim"]

ZH_AGENT = [
    "您好，我是中国电信客服{agent}号，请问您是{name}本人吗？",
    "{name}您好，现在方便耽误您一分钟吗？",
    "给您推荐一款{product}，开通后用手机号登录APP就能用。",
    "资费是每月{fee}元，前{days}天免费体验，体验期到{end}，之后每月{fee}元。",
    "不需要的话发送TD到10001就能退订，也可以打10000查询。",
    "{product}这个月办的人挺多的，您看需要给您开通吗？",
    "好的，已经为您开通了{product}，稍后会收到短信。",
    "这个是绝对免费的，您放心。",
    "今天是最后一天了，名额马上就没了。",
    "那我{day}再给您打，不打扰您了。",
    "您的号码尾号是{tail}对吧？",
    "您说的这个情况我记下了，{name}。",
    "您这个月话费大概是{bill}元，用了{gb}个G流量。",
    "确认一下，您同意开通{product}，每月{fee}元，对吗？",
]
ZH_CUSTOMER = [
    "是我，你说。", "嗯。", "哦，{product}多少钱啊？", "好的，那就开通吧。", "不需要，谢谢。",
    "我再考虑一下吧。", "以后别给我打电话了。", "你们再这样我就打12315投诉。",
    "我刚睡醒，迷迷糊糊的。", "这个怎么退订？", "喂？信号不好听不清。", "行吧。",
    "我上个月话费都{bill}块了。", "我现在在{place}，不太方便。", "对，尾号{tail}。",
    "同意。", "那个{product}有什么用啊？",
]
ZH_CHATTER = ["{who}{when}在{place}{doing}", "我{when}{doing}，你快点说", "{place}这边{weather}",
              "我家{who}也用你们的卡", "我记得{when}有人打过电话"]
ZH_WORDS = {
    "who": ["我妈", "我爸", "我老公", "我媳妇", "孩子", "我同事", "隔壁老王"],
    "when": ["刚才", "昨天", "上周", "早上", "下午", "晚上", "今天"],
    "place": ["公司", "地铁上", "超市", "医院", "开车", "外面", "家里", "学校门口"],
    "doing": ["吃饭", "开会", "买菜", "接孩子", "排队", "加班", "打游戏"],
    "weather": ["下雨了", "挺热的", "刮大风", "信号不太好"],
}
FILLERS_ZH = ["嗯", "呃", "那个", "就是说", "对对对", "然后呢", "我想想啊", "你等一下"]
HOMOPHONES = {"资费": "自费", "退订": "退定", "开通": "开同", "体验": "体眼"}
TRADITIONAL = {"这": "這", "个": "個", "费": "費", "开": "開", "说": "說", "话": "話"}

EN_AGENT = [
    "Hi, this is {agent} from the phone company, am I speaking with {name}?",
    "Do you have a minute, {name}?",
    "I'd like to tell you about {product}, you just sign in to the app.",
    "It's ${fee} a month, and the free trial ends on {end}, then billing starts.",
    "You can cancel anytime by texting STOP to 4321 or in the app.",
    "Would you like me to add {product} to your line?",
    "Great, {product} is active on your line now.",
    "It's guaranteed, you'll never be charged.", "This offer is only good today.",
    "No problem, I'll call you back {day}.", "Okay, sure.", "Let me check that for you.",
    "Your bill last month was ${bill}, is that right?",
    "Just to confirm, you agree to add {product} at ${fee} a month?",
]
EN_CUSTOMER = [
    "Yes, speaking.", "Uh-huh.", "How much is {product}?", "Yes, sign me up.", "No thanks.",
    "Let me think about it.", "Please stop calling me.", "I'm going to report you to the FTC.",
    "You woke me up.", "How do I cancel?", "Sorry, you're breaking up.", "Okay.",
    "I'm at the {place} right now.", "My bill was like {bill} dollars.", "Yes, I agree.",
]
EN_CHATTER = ["I'm {doing} at the {place}", "my {who} handles the phone stuff",
              "it's {weather} here", "I got a call like this {when}"]
EN_WORDS = {
    "who": ["wife", "husband", "son", "daughter", "roommate", "mom"],
    "when": ["yesterday", "last week", "this morning", "on Monday"],
    "place": ["office", "store", "gym", "airport", "pharmacy", "bus stop"],
    "doing": ["driving", "cooking", "working", "waiting", "shopping"],
    "weather": ["raining", "really hot", "snowing", "windy"],
}
FILLERS_EN = ["um", "uh", "you know", "I mean", "like", "so", "well", "hold on"]


def _fill(template: str, slots: dict[str, str], words: dict[str, list[str]],
          rng: random.Random) -> str:
    values = dict(slots)
    for key, options in words.items():
        values.setdefault(key, rng.choice(options))
    return template.format(**values)


def _zh_turn(template: str, slots: dict[str, str], rng: random.Random) -> str:
    text = _fill(template, slots, ZH_WORDS, rng)
    if rng.random() < 0.35:  # small talk before or after
        chatter = _fill(rng.choice(ZH_CHATTER), slots, ZH_WORDS, rng)
        text = f"{chatter}，{text}" if rng.random() < 0.5 else f"{text}{chatter}。"
    if rng.random() < 0.4:  # a filler where a clause begins
        at = rng.choice([0] + [i + 1 for i, c in enumerate(text) if c == "，"])
        text = f"{text[:at]}{rng.choice(FILLERS_ZH)}，{text[at:]}"
    if rng.random() < 0.08:
        for right, heard in HOMOPHONES.items():
            text = text.replace(right, heard)
    if rng.random() < 0.15:  # speech recognition without punctuation
        text = text.replace("，", " ").replace("。", "")
    elif rng.random() < 0.1:
        text = text.replace("，", ",")
    if rng.random() < 0.02:
        text = "".join(TRADITIONAL.get(c, c) for c in text)
    return text


def _en_turn(template: str, slots: dict[str, str], rng: random.Random) -> str:
    text = _fill(template, slots, EN_WORDS, rng)
    if rng.random() < 0.35:
        chatter = _fill(rng.choice(EN_CHATTER), slots, EN_WORDS, rng)
        text = f"{chatter.capitalize()}, {text[0].lower()}{text[1:]}" if rng.random() < 0.5 \
            else f"{text} {chatter.capitalize()}."
    if rng.random() < 0.4:
        words = text.split()
        at = rng.randrange(len(words) + 1)
        words.insert(at, rng.choice(FILLERS_EN) + ",")
        text = " ".join(words)
    if rng.random() < 0.15:
        text = text.replace(",", "").replace(".", "").lower()
    return text


def make_call(index: int, rng: random.Random) -> dict:
    english = rng.random() < 0.3
    product, fee = rng.choice(PRODUCTS_EN if english else PRODUCTS_ZH)
    if rng.random() < 0.2:  # a fee that differs from the product's
        fee = round(fee + rng.choice([1, 2, 5]), 2)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    slots = {
        "product": product, "fee": f"{fee:g}", "days": str(rng.choice([7, 15, 30])),
        "agent": (rng.choice(["Sam", "Alex", "Jordan", "Taylor"]) if english
                  else f"{rng.randint(1000, 9999)}"),
        "name": (f"{rng.choice(['Mr.', 'Ms.'])} {rng.choice(NAMES_EN)}" if english
                 else f"{rng.choice(SURNAMES)}{rng.choice(['先生', '女士'])}"),
        "end": (f"{['January', 'March', 'May', 'July', 'October', 'December'][month % 6]} "
                f"{day}" if english else f"{month}月{day}号"),
        "tail": f"{rng.randint(0, 9999):04d}", "bill": f"{rng.randint(20, 300)}",
        "gb": str(rng.randint(1, 60)),
        "day": rng.choice(["tomorrow", "next week", "this afternoon"] if english
                          else ["明天", "下周", "下午", "改天"]),
    }
    agent, customer = (EN_AGENT, EN_CUSTOMER) if english else (ZH_AGENT, ZH_CUSTOMER)
    turn_of = _en_turn if english else _zh_turn
    turns, clock = [], 0.0
    for number in range(rng.randint(20, 40)):
        speaker = "agent" if number % 2 == 0 else "customer"
        text = turn_of(rng.choice(agent if speaker == "agent" else customer), slots, rng)
        length = 2.0 + rng.random() * 6
        turns.append({"speaker": speaker, "text": text, "start": round(clock, 2),
                      "end": round(clock + length, 2)})
        clock += length + 0.3
    return {
        "call_id": f"B-{index:08d}",
        "call_type": "sale",
        "agent_id": f"A{rng.randint(1, 200):03d}",
        "customer_phone": (f"+1555{rng.randint(0, 9999999):07d}" if english
                           else f"138{rng.randint(0, 99999999):08d}"),
        "started_at": f"2026-11-23T{rng.randint(9, 20):02d}:{rng.randint(0, 59):02d}:00+08:00",
        "language": "en" if english else "zh",
        "product": {"code": "".join(w[0] for w in product.split()).upper() or "P",
                    "name": product, "monthly_fee": fee, "trial_days": int(slots["days"])},
        "turns": turns,
    }


def write_calls(path: Path, count: int, seed: int = 7) -> Path:
    """N calls as JSON Lines at `path` (same N and seed: same bytes)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps(make_call(index, rng), ensure_ascii=False) + "\n")
    return path
