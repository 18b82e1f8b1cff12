"""Interaction turns: user utterance + perception summary -> `<intent>NAME</intent> reply`.

The generator builds each turn *from* a chosen intent and difficulty; the verifier re-derives the expected intent
from the prompt text alone with ordered cue rules (first match wins), so the two are independent code paths:

  1 farewell words              -> farewell       5 distress words, or low engagement + gaze away/down -> encourage
  2 greeting opener             -> greet          6 opinion statement                                  -> agree
  3 user still speaking / "..." -> listen         7 anything else (sharing news, fillers)              -> ask
  4 information question        -> explain

Difficulty: 1 = one utterance cue, calm perception; 2 = perception decides (speaking, disengaged) among distractors;
3 = two utterance cues whose order of precedence decides, plus noisy perception.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from llm.data.types import Example, Verdict

INTENTS: tuple[str, ...] = ("greet", "listen", "agree", "ask", "encourage", "explain", "farewell")
PRECEDENCE: tuple[str, ...] = ("farewell", "greet", "listen", "explain", "encourage", "agree", "ask")

SYSTEM_PROMPT = ("You are an attentive conversational agent. Answer with <intent>NAME</intent> and one short "
                 "reply. NAME is one of: greet, listen, agree, ask, encourage, explain, farewell.")

NO_PERCEPTION = "none"

_FORMAT = re.compile(r"^<intent>([a-z]+)</intent> (\S.*)$", re.DOTALL)

# ---- cue lexicon (shared vocabulary of the generator templates and the verifier rules) ----
_FAREWELL_RE = re.compile(r"\b(bye|goodbye|see you|have to go|gotta go|good night|talk (to you )?later|"
                          r"must leave|heading out)\b", re.IGNORECASE)
_GREET_RE = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|nice to meet you)\b", re.IGNORECASE)
_QUESTION_RE = re.compile(r"\b(how|what|why|can you explain|could you tell me|do you know)\b[^.!]*\?", re.IGNORECASE)
_DISTRESS_RE = re.compile(r"\b(nervous|worried|scared|stressed|struggling|exhausted|afraid|anxious|"
                          r"not sure I can|so hard|failed)\b", re.IGNORECASE)
_OPINION_RE = re.compile(r"\b(I think|I believe|in my opinion|I feel like|honestly,|I'm convinced)\b", re.IGNORECASE)
_TRAILING_RE = re.compile(r"(\.\.\.|\b(and then|and so|so, um|but also))\s*$", re.IGNORECASE)
_SPEAKING_RE = re.compile(r"still speaking", re.IGNORECASE)
_LOW_ENG_RE = re.compile(r"engagement low", re.IGNORECASE)
_AWAY_RE = re.compile(r"looking (away|down)", re.IGNORECASE)

# ---- reply content checks, per intent ----
_REPLY_CHECKS: dict[str, tuple[re.Pattern[str], str]] = {
    "greet": (re.compile(r"\b(hi|hello|hey|welcome|good to see you|nice to meet you)\b", re.IGNORECASE),
              "a greet reply must contain a greeting"),
    "farewell": (re.compile(r"\b(bye|goodbye|see you|take care)\b", re.IGNORECASE),
                 "a farewell reply must say goodbye"),
    "ask": (re.compile(r"\?\s*$"), "an ask reply must end with a question mark"),
    "agree": (re.compile(r"\b(yes|agree|right|exactly|absolutely|true|indeed)\b", re.IGNORECASE),
              "an agree reply must signal agreement"),
    "encourage": (re.compile(r"\b(you can|you've got|don't worry|it's okay|take your time|believe in you|"
                             r"one step|you will|you'll)\b", re.IGNORECASE), "an encourage reply must encourage"),
    "explain": (re.compile(r"^(?!.*\?\s*$).{25,}$", re.DOTALL), "an explain reply must be a statement of 25+ chars"),
    "listen": (re.compile(r"^\W*(\w+\W+){0,5}\w*\W*$"), "a listen reply must be a short backchannel (<= 6 words)"),
}


@dataclass(frozen=True)
class Perception:
    """What the perception pipeline saw during the utterance, as the brain receives it (one-line summary)."""

    nods: int = 0
    engagement: str = "high"   # low | medium | high
    gaze: str = "at you"       # at you | away | down
    speaking: bool = False     # the user is still speaking / gesturing mid-sentence

    def summary(self) -> str:
        nod_words = {0: "the user did not nod", 1: "the user nodded once", 2: "the user nodded twice"}
        parts = [nod_words.get(self.nods, f"the user nodded {self.nods} times"), f"engagement {self.engagement}",
                 f"looking {self.gaze}"]
        if self.speaking:
            parts.append("the user is still speaking")
        return "; ".join(parts)


def format_user(utterance: str, perception_summary: str) -> str:
    """The user message the brain sees: perception summary line, then the utterance line."""
    return f"Perception: {perception_summary}\nUser: {utterance}"


def parse_user(user: str) -> tuple[str, str]:
    """Inverse of `format_user`: (utterance, perception summary); a bare utterance has an empty summary."""
    perception, utterance = "", user.strip()
    m = re.match(r"^Perception:\s*(.*?)\nUser:\s*(.*)$", user.strip(), re.DOTALL)
    if m:
        perception, utterance = m.group(1).strip(), m.group(2).strip()
    return utterance, perception


def expected_intent(utterance: str, perception: str) -> str:
    """The verifier's rule: the first cue (in PRECEDENCE order) present in the utterance/perception decides."""
    if _FAREWELL_RE.search(utterance):
        return "farewell"
    if _GREET_RE.search(utterance):
        return "greet"
    if _SPEAKING_RE.search(perception) or _TRAILING_RE.search(utterance):
        return "listen"
    if _QUESTION_RE.search(utterance):
        return "explain"
    if _DISTRESS_RE.search(utterance) or (_LOW_ENG_RE.search(perception) and _AWAY_RE.search(perception)):
        return "encourage"
    if _OPINION_RE.search(utterance):
        return "agree"
    return "ask"


def parse_response(text: str) -> tuple[str | None, str]:
    """(intent, reply) from `<intent>NAME</intent> reply`; intent None when the format is broken."""
    m = _FORMAT.match(text.strip())
    if not m or m.group(1) not in INTENTS:
        return None, text.strip()
    return m.group(1), m.group(2).strip()


def verify(example: Example, response: str) -> Verdict:
    """Format (one `<intent>` tag from the list + a non-empty one-line reply of <= 40 words) and cue consistency."""
    intent, reply = parse_response(response)
    if intent is None:
        return Verdict(False, False, "expected '<intent>NAME</intent> reply' with NAME in " + ",".join(INTENTS))
    if "\n" in reply or len(reply.split()) > 40:
        return Verdict(False, False, "the reply must be one line of at most 40 words")
    utterance, perception = parse_user(example.user)
    want = expected_intent(utterance, perception)
    if intent != want:
        return Verdict(True, False, f"intent {intent!r} but the cues call for {want!r}")
    pattern, why = _REPLY_CHECKS[intent]
    if not pattern.search(reply):
        return Verdict(True, False, why)
    return Verdict(True, True, "")


# ---- generator ----
_PLACES = ["Kyoto", "Lisbon", "the mountains", "my grandmother's village", "Oslo", "the coast", "Mexico City",
           "a music festival", "the lake", "Seoul", "Nairobi", "the countryside", "Vienna", "Hokkaido", "Tokyo",
           "Paris", "the zoo", "a museum", "the beach", "Istanbul", "a friend's wedding", "the desert", "Osaka",
           "New York", "Cape Town", "the forest", "a concert", "Berlin", "Sydney", "the old town"]
_ACTIVITIES = ["learning the piano", "running in the mornings", "a pottery class", "a new job", "baking bread",
               "a coding course", "volunteering at a shelter", "rock climbing", "a book club", "learning Spanish",
               "gardening", "a drawing class", "swimming lessons", "my thesis", "a chess club", "yoga",
               "learning to drive", "a dance course", "writing a novel", "cycling to work"]
_OBJECTS = ["a new bike", "a puppy", "an old camera", "a telescope", "a sourdough starter", "a chess set",
            "a kitten", "a guitar", "a new phone", "some houseplants", "a record player", "a kayak"]
_FACTS = {
    "rainbows form": ("Sunlight bends and splits inside raindrops, and each colour leaves at a slightly different "
                      "angle."),
    "the moon has phases": "We see different parts of the moon's sunlit half as it orbits the Earth each month.",
    "leaves change colour in autumn": "Trees stop making green chlorophyll, so the yellow and red pigments show.",
    "planes stay in the air": "The wings push air downward, and the air pushes the wings up with lift.",
    "bread rises": "Yeast eats sugar and releases carbon dioxide, which gets trapped in the dough as bubbles.",
    "the sky is blue": "Air scatters short blue wavelengths of sunlight far more than the red ones.",
    "we get hiccups": "The diaphragm suddenly contracts and the vocal cords snap shut, making the hic sound.",
    "ice floats": "Water expands when it freezes, so ice is less dense than the liquid around it.",
    "a compass works": "Its magnetised needle lines up with the Earth's magnetic field and points north.",
    "thunder follows lightning": "Lightning heats the air so fast that it expands with a bang we hear later.",
    "cats purr": "Muscles in the cat's larynx twitch quickly as it breathes, which makes the purring sound.",
    "salt melts ice": "Salt dissolves into the thin water film and lowers its freezing point below the air's.",
}
_OPINIONS = ["{a} is the best way to relax", "walking is underrated", "cooking at home is worth the time",
             "{p} is a wonderful place", "good sleep matters more than anything", "music makes work easier",
             "small talk is actually useful", "old films are better than new ones", "{a} is good for the mind",
             "robots should move more like people", "tea is better than coffee", "people should travel more",
             "mornings are the best time to work", "books beat movies", "everyone should learn to cook",
             "cities need more parks", "{p} is worth a visit"]
_DISTRESS = ["I'm nervous about my exam tomorrow", "I'm so stressed about work lately", "I'm worried I'll fail again",
             "I'm struggling with {a}", "I'm anxious about the interview", "I'm exhausted and behind on everything",
             "I'm not sure I can finish {a}", "I'm scared of speaking in public", "I failed my driving test",
             "I'm worried about my mother's health", "this week has been so hard", "I'm afraid I'll lose my job",
             "I'm exhausted from {a}", "I feel anxious all the time lately", "I'm nervous about meeting new people"]
_SHARING = ["I just came back from a trip to {p}", "I started {a} last week", "yesterday I visited {p}",
            "I recently got {o}", "my friend took me to {p}", "I spent the weekend on {a}", "I went to {p} last month",
            "I'm planning a trip to {p}", "we finally bought {o}", "I've been doing {a} for a year now",
            "my sister just moved to {p}", "today I tried {a} for the first time", "I got {o} for my birthday",
            "last summer I lived in {p}"]
_FILLERS = ["okay", "hmm", "yeah", "right", "I see", "sure", "mm", "well", "uh huh", "oh", "interesting"]
_GREETINGS = ["Hi!", "Hello!", "Hey there!", "Good morning!", "Good evening!", "Nice to meet you!", "Hello again!",
              "Hi, how are you?", "Hey!", "Good afternoon!", "Hello, good to meet you.", "Hi there.", "Hey, it's me."]
_FAREWELLS = ["Well, I have to go now.", "Okay, bye for now!", "Goodbye, this was fun.", "See you tomorrow!",
              "I must leave now, talk to you later.", "Good night!", "Alright, I'm heading out.",
              "Thanks for the chat, bye!", "I gotta go, see you.", "Time for me to go, goodbye.",
              "See you next week!", "Okay, talk later!"]
_TRAILS = ["and then...", "so, um", "and so", "but also"]

_REPLIES: dict[str, list[str]] = {
    "greet": ["Hello! It's good to see you.", "Hi! Welcome, how are you today?", "Hey! Nice to meet you.",
              "Hello there, welcome!", "Hi! Good to see you again."],
    "farewell": ["Goodbye, take care!", "Bye! It was lovely talking with you.", "See you soon, take care.",
                 "Take care, goodbye!", "Bye for now, see you next time."],
    "listen": ["Mm-hm, go on.", "I'm listening.", "Yes, please continue.", "I see, go on.", "Mm, and then?"],
    "agree": ["Yes, I agree with you.", "Absolutely, that's true.", "Exactly, you're right.", "Yes, indeed.",
              "I agree, that makes a lot of sense."],
    "encourage": ["Don't worry, you can do this.", "Take your time, you've got this.",
                  "It's okay, one step at a time.", "I believe in you, you'll manage.",
                  "You can handle it, don't worry."],
}
_ASK_REPLIES = {
    "place": ["How was {p}?", "What did you enjoy most about {p}?", "Oh nice, what was {p} like?",
              "Would you go back to {p}?"],
    "activity": ["How is {a} going?", "What made you start {a}?", "Do you enjoy {a}?"],
    "object": ["Oh, what do you like about {o}?", "How do you use {o}?"],
    "generic": ["What's on your mind?", "How has your day been?", "Would you like to tell me more?",
                "What would you like to talk about?"],
}


def _calm_perception(rng: random.Random) -> Perception:
    return Perception(nods=rng.choice([0, 0, 1, 2]), engagement=rng.choice(["high", "medium"]), gaze="at you")


def _noisy_perception(rng: random.Random, allow_speaking: bool, allow_disengaged: bool) -> Perception:
    speaking = allow_speaking and rng.random() < 0.3
    engagement = rng.choice(["low", "medium", "high"])
    gaze = rng.choice(["at you", "away", "down"])
    if not allow_disengaged and engagement == "low" and gaze != "at you":
        gaze = "at you"
    return Perception(nods=rng.choice([0, 1, 2, 3]), engagement=engagement, gaze=gaze, speaking=speaking)


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots)


def _sentence(text: str) -> str:
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _cue(intent: str, rng: random.Random, slots: dict[str, str]) -> tuple[str, str]:
    """One utterance carrying `intent`'s cue, and the ask-reply topic it implies."""
    if intent == "greet":
        return rng.choice(_GREETINGS), "generic"
    if intent == "farewell":
        return rng.choice(_FAREWELLS), "generic"
    if intent == "explain":
        topic = rng.choice(sorted(_FACTS))
        q = rng.choice(["Can you explain why {t}?", "Why do you think {t}?", "Do you know how {t}?",
                        "Could you tell me why {t}?", "I always wondered why {t}. Can you explain?",
                        "What makes it so that {t}?", "How come {t}? Do you know why?"])
        slots["fact"] = _FACTS[topic]
        return q.format(t=topic), "generic"
    if intent == "encourage":
        return _sentence(_fill(rng.choice(_DISTRESS), slots)), "activity"
    if intent == "agree":
        return _sentence(rng.choice(["I think ", "I believe ", "In my opinion, ", "I feel like "])
                         + _fill(rng.choice(_OPINIONS), slots)), "generic"
    # ask: sharing news
    tmpl = rng.choice(_SHARING)
    kind = "place" if "{p}" in tmpl else "activity" if "{a}" in tmpl else "object"
    return _sentence(_fill(tmpl, slots)), kind


def _reply(intent: str, rng: random.Random, slots: dict[str, str], topic: str) -> str:
    if intent == "ask":
        return _fill(rng.choice(_ASK_REPLIES[topic]), slots)
    if intent == "explain":
        return slots["fact"]
    return rng.choice(_REPLIES[intent])


def generate(rng: random.Random, difficulty: int) -> Example:
    """One interaction turn whose cues call for a uniformly drawn intent, built at `difficulty` (1..3)."""
    if difficulty not in (1, 2, 3):
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    intent = rng.choice(INTENTS)
    slots = {"p": rng.choice(_PLACES), "a": rng.choice(_ACTIVITIES), "o": rng.choice(_OBJECTS)}
    topic = "generic"
    if difficulty == 1:
        perception = _calm_perception(rng)
        if intent == "listen":
            utterance = _sentence(_fill(rng.choice(_SHARING), slots))[:-1] + " " + rng.choice(_TRAILS)
        else:
            utterance, topic = _cue(intent, rng, slots)
    elif difficulty == 2:
        # the perception line carries (or vetoes) the cue; the utterance is neutral news or a filler
        neutral, ntopic = (_sentence(rng.choice(_FILLERS)), "generic") if rng.random() < 0.4 else \
            _cue("ask", rng, slots)
        if intent == "listen":
            base = _noisy_perception(rng, allow_speaking=False, allow_disengaged=True)
            perception = Perception(base.nods, base.engagement, base.gaze, speaking=True)
            utterance = neutral
        elif intent == "encourage":
            perception = Perception(rng.choice([0, 1]), "low", rng.choice(["away", "down"]))
            utterance, topic = neutral, "generic"
        elif intent == "ask":
            perception = _noisy_perception(rng, allow_speaking=False, allow_disengaged=False)
            utterance, topic = neutral, ntopic
        else:
            perception = _noisy_perception(rng, allow_speaking=intent in ("farewell", "greet"),
                                           allow_disengaged=intent in ("farewell", "greet", "explain"))
            utterance, topic = _cue(intent, rng, slots)
    else:
        # two cues: the gold one plus one of lower precedence; perception may not trigger anything above gold
        rank = PRECEDENCE.index(intent)
        lower = [i for i in PRECEDENCE[rank + 1:] if i != "listen"]
        perception = _noisy_perception(rng, allow_speaking=rank < PRECEDENCE.index("listen"),
                                       allow_disengaged=rank < PRECEDENCE.index("encourage"))
        if intent == "listen":
            other = rng.choice(lower)
            first, topic = _cue(other, rng, slots)
            utterance = first[:-1] + ", " + rng.choice(_TRAILS)
        elif not lower:
            utterance, topic = _cue(intent, rng, slots)
            if rng.random() < 0.5:
                utterance = _sentence(rng.choice(_FILLERS)) + " " + utterance
        else:
            gold, topic = _cue(intent, rng, slots)
            other, _ = _cue(rng.choice(lower), rng, dict(slots))
            if intent == "greet":
                utterance = gold + " " + other          # a greeting only counts as the opener
            else:
                utterance = (gold + " " + other) if rng.random() < 0.5 else (other + " " + gold)
    reply = _reply(intent, rng, slots, topic)
    # a fifth of the turns come without perception (a typed chat, no camera): the brain sends "none" then; never
    # where the perception line is the deciding cue (difficulty 2 listen/encourage)
    perception_decides = difficulty == 2 and intent in ("listen", "encourage")
    summary = NO_PERCEPTION if not perception_decides and rng.random() < 0.2 else perception.summary()
    user = format_user(utterance, summary)
    return Example(task="interaction", difficulty=difficulty, system=SYSTEM_PROMPT, user=user,
                   answer=f"<intent>{intent}</intent> {reply}", meta={"intent": intent})
