"""Intent labels for real conversation turns, and the checks that decide which human replies the listener may learn.

The synthetic `interaction` task knows each turn's intent because it builds the turn from it. Real dialogue has no
labels, so `label_intent` derives the intent the agent should answer with from the utterance alone (plus the
perception line), with the same order of precedence as the synthetic verifier but cue lexicons written for natural
chat: lower case, typos, fillers, sad news that names no emotion word ("my dog died"). `reply_fits` says whether a
human reply carries out a given intent, and `is_memory_claim` spots replies that present personal history as fact
(the agent has none, so its listener voice must not learn to invent it).
"""
from __future__ import annotations

import functools
import re
from typing import Any

_I = re.IGNORECASE

# the order in which cues win (same as llm.data.interaction.PRECEDENCE)
_FAREWELL = re.compile(
    r"\b(bye+|goodbye|good bye|bye for now|(?<!to )see (ya|you|u)( later| soon| tomorrow| around)?|"
    r"sleep well[.!]*\s*$|call it a (day|night)|"
    r"leave (you to it|it there)|flip side|gtg|g2g|later,? alligator|cheerio|cheers\W*$|ciao|farewell|"
    r"(till|til|until) next time|that'?s (me|it for me)|(be|head) off|signing off|cya|gotta (go|run|head out|"
    r"bounce)|got to (go|run)|ha(ve|s) to (go|run|leave|head out)|need to (go|run|leave|head out|get going)|"
    r"should (go|get going|head out|head off|log off|sign off)|(better|gonna|going to) (get going|head out|go now|"
    r"log off|sign off|head off)|must (go|leave)|heading (out|off|home)|i'?m off|(good|nite) ?night(?!'s)|"
    r"until (then|next|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|later)|take it easy|ciao|"
    r"adios|peace( out)?\W*$|i'?m out\b|(drop by|come back|stop by|chat|talk) again|later\W*$|"
    r"talk (to you |with you )?(later|soon|tomorrow|again)|ttyl|catch (you|ya) (later|soon)|take care|"
    r"(nice|great|good|fun|lovely) (talking|chatting|speaking) (to|with) you|"
    r"(it|this) was (nice|great|fun|lovely|good) (talking|chatting)|thanks for (the chat|chatting|talking)|"
    r"until next time|signing off|logging off|that'?s all for (now|today)|i'?ll let you go|time (for me )?to go|"
    r"have a (good|great|nice|lovely) (one|day|night|evening|weekend))\b", _I)
_GREET = re.compile(
    r"^\W*((oh|ah|well|and|so|ayy+|ay),? )?(hi+|hello+|hey+|bonjour|hola|namaste|g'?day|salutations|"
    r"greetings|top o'? the morning|afternoon|what'?s good|(good|nice|lovely|great) to (see|meet) you|heya|hiya|"
    r"howdy|yo|greetings|hallo|good (morning|afternoon|evening|day)|"
    r"morning|evening|nice to meet you|pleased to meet you|what'?s up|whats? up|sup|wassup|"
    r"how'?s it going|hows it going|how are (you|ya|u)|how'?re (you|ya|u)|how('?re| are) you doing|how you doing|"
    r"how'?ve you been|"
    r"how have you been|long time no see|oh hi|well hello|hey there|hi there)\b", _I)
_TRAILING = re.compile(
    r"(\.\.\.+|…|--+|—|\b(and|but|so|or|because|cause|cuz|um+|uh+|er+|like|the|a|an|i|my|to|with|of|that|"
    r"which|when|if|then|and then|and so|you know|i mean|anyway|well|also|plus|though|is|was|are|were|just|always|"
    r"he|she|they|we|for|in|on|at|about|from|into|by|as|how|what|who|where|than|not|didn'?t|was like|"
    r"it'?s|our|his|her|their|your|kind of|sort of)|,)\s*$", _I)
_OPENING = re.compile(r"(where do i (even )?(begin|start)|so basically|let me (explain|tell you|think)|where was i|"
                      r"first of all|long story short|you'?ll never guess|guess what)\W*$|"
                      r"[,.]\s*(so|and|but|then|because) (\w+ ){0,3}\w+\s*$", _I)
_SPEAKING = re.compile(r"still speaking", _I)
_LOW_ENGAGEMENT = re.compile(r"engagement low", _I)
_AWAY = re.compile(r"looking (away|down)", _I)
_TAG_QUESTION = re.compile(r"(,\s*)?(isn'?t it|aren'?t they|don'?t you think|wouldn'?t you say|right|no|huh|"
                           r"don'?t you agree|you know)\s*\?+\s*$", _I)
_QUESTION = re.compile(
    r"\?|^\W*(what|whats|why|how|hows|where|wheres|when|who|whos|whom|which|whose|is|are|was|were|do|does|did|can|could|would|will|"
    r"should|have|has|shall|may)\b[^.!]*$|\b(tell me|explain|describe|do you know|i wonder|i'?ve always wondered|"
    r"i was wondering|any idea|any ideas|remind me)\b", _I)
_DISTRESS = re.compile(
    r"\b(died|dead|dying|passed away|passed on|funeral|put (him|her|it) down|put to sleep|lost (my|our|him|her)|"
    r"miss (him|her|them|my)|cancer|hospital|surgery|sick|ill|injured|hurt|broke my|broken (arm|leg|heart)|"
    r"broke up|break ?up|dumped|divorce|cheated|fired|laid off|lost (my|the) job|unemployed|failed|fail|failing|"
    r"bombed|flunked|rejected|rejection|didn'?t get (the|in|it|into)|stress(ed|ful)?|anxious|anxiety|panic|"
    r"worried|worry|worrying|nervous|scared|afraid|terrified|frightened|dread(ing)?|depressed|depressing|sad|"
    r"sadly|upset|unhappy|lonely|alone|miserable|heartbroken|crying|cried|tears|exhausted|drained|burn(ed|t) out|"
    r"burnout|overwhelmed|struggling|struggle|(tired|sick) of|fed up|can'?t (sleep|take|stand|handle|cope|"
    r"do this|afford|focus)|couldn'?t sleep|no sleep|hate (my|this|it|when|how|that)|awful|terrible|horrible|"
    r"the worst|rough (day|week|time|year)|bad (day|week|news|time)|hard (day|week|time|year)|so hard|too hard|"
    r"yell(ing|ed|s)? at me|shout(ing|ed)? at me|screamed at|bully|bullied|frustrat(ed|ing)|annoyed|angry|"
    r"furious|pissed|mad at|ugh+|hopeless|pointless|disappointed|disappointing|embarrass(ed|ing)|ashamed|"
    r"guilty|regret|messed up|screwed up|not sure i can|don'?t think i can|gave up|give up|want to quit|"
    r"behind on|deadline|stroke|heart attack|diagnos\w*|lump|biopsy|tumou?r|dementia|alzheimer'?s|chemo|"
    r"divorc\w*|separat(ed|ing)|flood(ed)?|burn(ed|t) down|evict\w*|cut from|kicked (out|off)|got an? [df]\b|"
    r"caved|relapsed?|forgot my|nobody\b.{0,30}\b(talks|talked|invited|noticed|remembered|cares|likes)|lost every|"
    r"disappear|"
    r"humiliat\w*|tripped|(in|at) the (er|hospital)|went wrong|not going well|no one (\w+ )?(talks|invited)|"
    r"laid me off|let go|dropped out|can'?t find (a|any) (job|work)|(huge|big|bad|terrible) (fight|argument)|"
    r"fought|argued|"
    r"(feel|feeling|felt|been) (really |so |very |kind of |kinda |pretty )?(down|low|blue|bad|awful|empty|lost|"
    r"sad|lonely|useless|worthless|stuck|hopeless)|(nobody|no one|no-one) (came|showed|cares|called|remembered|"
    r"likes|wants|listens)|ruined|burn(ed|t) (the|my|our)|won'?t (talk|speak|answer|call|reply)|ignor(ed|ing) me|"
    r"left me|let (me )?down|broke\b|in debt|bills|evicted|stolen|robbed|crashed|accident|missed (the|my))\b", _I)
_OPINION = re.compile(
    r"\b(i think|i believe|i feel like|i feel that|in my opinion|imo|imho|honestly|personally|i'?m convinced|"
    r"i'?d say|i reckon|i guess|i suppose|to be honest|tbh|if you ask me|i'?m (pretty )?sure|"
    r"i (really |absolutely |just )?(love|adore|like|enjoy|prefer|hate|can'?t stand|dislike)|"
    r"(is|are|was|were|'s|'re) (so|really|totally|super|pretty|way|kind of|kinda|honestly|just|actually|"
    r"definitely|absolutely|seriously)? ?(the best|the worst|overrated|underrated|amazing|awesome|great|"
    r"wonderful|fantastic|beautiful|lovely|terrible|awful|boring|pointless|ridiculous|silly|overpriced|"
    r"worth it|a waste|important|essential|better|worse|nicer|easier|harder|fun|cool|nice|good|bad|gorgeous|"
    r"delicious|disgusting|perfect|weird|crazy)|should|shouldn'?t|ought to|needs? (to|more|better)|"
    r"nothing beats|there'?s nothing like|can'?t beat|beats|way better|much better|better than|worse than|"
    r"deserves?|the best|the worst|overrated|underrated|worth|(is|are) wrong|(is|are) right|"
    r"people who|\w{3,}er than|(more|less) \w+ than|the \w+est|(is|are|'s|'re) (so|too|very|really|pretty) \w+)\b",
    _I)


_FIRST_PERSON = re.compile(r"^\W*((so|well|ok(ay)?|oh|hey|guess what|yay|omg|lol|haha|um+|uh+|anyway),? )*"
                           r"(i|i'?m|i'?ve|i'?d|i'?ll|im|ive|we|we'?re|we'?ve|we'?ll|my|our|me|us|just|finally|"
                           r"today|yesterday|tonight|tomorrow|last|this (morning|weekend|week|year)|next)\b", _I)


NEGATIVE_VALENCE = -0.25   # VADER compound score at or below which a statement about oneself is bad news


@functools.lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _valence(text: str) -> float:
    """VADER's compound valence in [-1, 1] (Hutto & Gilbert 2014, a lexicon and rules built for short social-media
    text, so it reads chat: "ugh", capitals, "!!", negation)."""
    return float(_vader().polarity_scores(text)["compound"])


def label_intent(utterance: str, perception: str = "") -> str:
    """The intent the agent should answer `utterance` with; the first cue in the verifier's precedence wins:
    farewell > greet > listen (trailing off, still speaking, an opening that promises more) > explain (a
    question) > encourage (distress or sad news, or low engagement with gaze away) > agree (an opinion) >
    encourage (a statement about oneself with negative valence) > ask (news about oneself, fillers) > agree (any
    other statement about the world: a judgement)."""
    u = " ".join(utterance.split())
    if _FAREWELL.search(u):
        return "farewell"
    if _GREET.search(u):
        return "greet"
    if _SPEAKING.search(perception) or _TRAILING.search(u) or _OPENING.search(u):
        return "listen"
    if _TAG_QUESTION.search(u) and not _DISTRESS.search(u):
        return "agree"
    if _QUESTION.search(u):
        return "explain"
    if _DISTRESS.search(u) or (_LOW_ENGAGEMENT.search(perception) and _AWAY.search(perception)):
        return "encourage"
    if _OPINION.search(u):
        return "agree"
    if _FIRST_PERSON.search(u) and _valence(u) <= NEGATIVE_VALENCE:
        return "encourage"  # bad news about oneself that names no distress word ("my car broke down")
    if _FIRST_PERSON.search(u) or len(re.findall(r"[a-z']+", u.lower())) <= 2:
        return "ask"       # news about oneself, or a filler ("okay", "haha"): ask a follow-up
    return "agree"         # a statement about the world: a judgement that invites agreement


_FITS: dict[str, re.Pattern[str]] = {
    "greet": re.compile(r"\b(hi+|hello|hey+|heya|hiya|howdy|welcome|good (morning|afternoon|evening)|"
                        r"nice to meet|good to (see|meet|hear)|how are (you|ya|u)|what'?s up|how'?s it going)\b", _I),
    "farewell": re.compile(r"\b(bye+|goodbye|see (ya|you)|take care|talk (to you )?(later|soon)|good ?night|"
                           r"(nice|great|fun) (talking|chatting)|have a (good|great|nice|lovely)|later|cya|ttyl|"
                           r"you too)\b", _I),
    "ask": re.compile(r"\?"),
    "agree": re.compile(r"^\W*(\w+\W+){0,4}?(yes|yeah|yea|yep|yup|agreed?|true|totally|definitely|absolutely|exactly|"
                        r"right|for sure|same|me too|so true|i know|indeed|of course|100|correct|good point|"
                        r"fair|sure|love that|i think so)\b", _I),
    "encourage": re.compile(r"\b(sorry|oh no|that sucks|sucks|rough|terrible|awful|hope|hang in there|you'?ll|"
                            r"you will|you can|you'?ve got|you got this|don'?t worry|it'?s (okay|ok|alright)|"
                            r"it'?ll be|feel better|here for you|that must|so sad|condolences|hugs?|poor|"
                            r"be okay|be fine|get through|breathe|proud of you|not your fault|that'?s hard|"
                            r"that'?s tough|tough)\b", _I),
}
_QUESTION_END = re.compile(r"\?\s*$")
_MEMORY = re.compile(
    r"\b(i|we)\s+(went|was|were|had|did|got|saw|visited|used to|grew up|lived|worked|bought|made|met|ate|took|"
    r"tried|played|watched|spent|moved|studied|remember|came|left|started|finished|won|lost|drove|flew|stayed|"
    r"broke|found|heard|learned|wrote|travel+ed|served|graduated|married|adopted|owned|raised|born|ran|"
    r"swam|hiked|camped|climbed|cooked|baked|danced|sang)\b|"
    r"\b(i'?ve|i have|we'?ve|we have) (been|had|done|seen|lived|worked|gone|got|gotten|visited|tried|owned|"
    r"never|always|only|also|just|already)\b|"
    r"\b(my|our) (mom|mum|mother|dad|father|parents?|wife|husband|spouse|sister|brother|siblings?|sons?|"
    r"daughters?|kids?|children|baby|family|girlfriend|boyfriend|fianc[eé]e?|partner|friends?|roommates?|boss|"
    r"co-?workers?|grand(ma|pa|mother|father|parents)|aunt|uncle|cousins?|dogs?|cats?|pets?|job|work|major|"
    r"classes|class|school|college|university|professor|teacher|house|apartment|home|car|hometown|mission|"
    r"ward|church|team|birthday|wedding)\b|"
    r"\b(i'?m|i am) (a |an )?(student|major|freshman|sophomore|junior|senior|married|engaged|single|from|"
    r"in college|studying|working|retired|a mom|a dad|a nurse|a teacher|\d+)\b|"
    r"\b(i|we) (live|work|study|major|go to school|teach|own|have (a|an|two|three|\d+))\b|"
    r"\bwhen i was\b|\b(yesterday|last (week|night|year|month|summer|winter|weekend|semester|time)|"
    r"this (morning|weekend|semester)|years ago|tomorrow|tonight)\b|\b(byu|provo|utah)\b", _I)


def reply_fits(intent: str, reply: str) -> bool:
    """Does a human `reply` carry out `intent`? (the listener voice learns only replies that do)."""
    r = " ".join(reply.split())
    words = len(r.split())
    if intent == "listen":
        return 1 <= words <= 6 and "?" not in r
    if intent == "explain":
        return words >= 4 and not _QUESTION_END.search(r.split(".")[0])   # a statement first, not a question
    pattern = _FITS.get(intent)
    return bool(pattern and pattern.search(r))


def is_memory_claim(reply: str) -> bool:
    """True when `reply` states personal history or biography (a trip taken, a family member, a job, a school)."""
    return bool(_MEMORY.search(reply))
