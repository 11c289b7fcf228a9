"""Realistic calls, deterministically: the packs' own phrasing mixed with everyday noise.

Each call is 20-40 turns in Chinese or English, built from a seeded random generator so
the same N and seed always give the same file, byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ZH_AGENT = [
    "您好，我是中国电信客服，请问您是机主本人吗？",
    "现在方便耽误您一分钟吗？",
    "给您推荐一款视频会员，开通后用手机号登录APP就能看热门剧。",
    "资费是每月{fee}元，前30天免费体验，体验期到{end}，之后每月{fee}元。",
    "不需要的话发送TD到10001就能退订，也可以打10000查询。",
    "您看需要给您开通吗？",
    "好的，已经为您开通了，稍后会收到短信。",
    "这个是绝对免费的，您放心。",
    "今天是最后一天了，名额马上就没了。",
    "那我改天再给您打，不打扰您了。",
    "嗯，对的，就是这样。",
    "您说的这个情况我记下了。",
]
ZH_CUSTOMER = [
    "是我，你说。", "嗯。", "哦，多少钱啊？", "好的，那就开通吧。", "不需要，谢谢。",
    "我再考虑一下吧。", "以后别给我打电话了。", "你们再这样我就打12315投诉。",
    "我刚睡醒，迷迷糊糊的。", "这个怎么退订？", "喂？信号不好听不清。", "行吧。",
]
EN_AGENT = [
    "Hi, am I speaking with the account holder?", "Do you have a minute?",
    "I'd like to tell you about Premium Streaming, you just sign in to the app.",
    "It's ${fee} a month, and the free trial ends on {end}, then billing starts.",
    "You can cancel anytime by texting STOP to 4321 or in the app.",
    "Would you like me to add it?", "Great, it's active on your line now.",
    "It's guaranteed, you'll never be charged.", "This offer is only good today.",
    "No problem, I'll call you back later.", "Okay, sure.", "Let me check that for you.",
]
EN_CUSTOMER = [
    "Yes, speaking.", "Uh-huh.", "How much is it?", "Yes, sign me up.", "No thanks.",
    "Let me think about it.", "Please stop calling me.", "I'm going to report you to the FTC.",
    "You woke me up.", "How do I cancel?", "Sorry, you're breaking up.", "Okay.",
]
NOISE_ZH = ["那个", "就是说", "呃", "对对对", "然后呢", "我想想啊", "你等一下"]
NOISE_EN = ["you know", "I mean", "um", "right", "so", "well", "hold on"]


def make_call(index: int, rng: random.Random) -> dict:
    english = rng.random() < 0.3
    agent, customer = (EN_AGENT, EN_CUSTOMER) if english else (ZH_AGENT, ZH_CUSTOMER)
    noise = NOISE_EN if english else NOISE_ZH
    fee = rng.choice([5, 9.9, 10, 15, 19.9])
    end = "December 23rd" if english else "12月23号"
    turns, clock = [], 0.0
    for number in range(rng.randint(20, 40)):
        speaker = "agent" if number % 2 == 0 else "customer"
        text = rng.choice(agent if speaker == "agent" else customer).format(fee=fee, end=end)
        if rng.random() < 0.5:
            text = f"{rng.choice(noise)}{' ' if english else '，'}{text}"
        length = 2.0 + rng.random() * 6
        turns.append({"speaker": speaker, "text": text, "start": round(clock, 2),
                      "end": round(clock + length, 2)})
        clock += length + 0.3
    return {
        "call_id": f"B-{index:08d}",
        "call_type": "sale",
        "agent_id": f"A{rng.randint(1, 200):03d}",
        "customer_phone": f"138{rng.randint(0, 99999999):08d}",
        "started_at": "2026-11-23T10:00:00+08:00",
        "language": "en" if english else "zh",
        "product": {"code": "TV", "name": "视频会员", "monthly_fee": fee, "trial_days": 30},
        "turns": turns,
    }


def write_calls(path: Path, count: int, seed: int = 7) -> Path:
    """N calls as JSON Lines at `path` (same N and seed: same bytes)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps(make_call(index, rng), ensure_ascii=False) + "\n")
    return path
