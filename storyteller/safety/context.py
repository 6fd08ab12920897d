"""Harm that no single word shows: a weapon aimed at a person, a blow struck at one, strangling,
cooking someone alive, undressing and touching, a drink poured or a cigarette lit. Each word alone
(刀, "knife", "shoot", 酒) is fine in a story; the rule fires only when the words around it name a
person (or a body part of one), so cartoon battles stay allowed: 拿剑指着怪兽 and "shoot a beam at
the monster" pass, 拿刀对着老师 and "shoot the teacher" do not.

Rules run on the normalised views (policy.find): Latin rules on the padded lowercase words
(" shoot the teacher "), Han rules on the Han view (Chinese clause punctuation folded to , . ! ? ;),
RAW rules on the folded text with its digits (gun models: AK-47, not Nebula M78).
"""

from __future__ import annotations

import re

# -- Chinese -----------------------------------------------------------------------------------------
NO_STOP = r"[^,.!?;:。、]"  # inside one clause
ZH_PERSON = (r"(?:他们|她们|你们|我们|他|她|你|我|人家|别人|大家|人|妈妈|爸爸|爷爷|奶奶|外公|外婆|姥姥|姥爷|哥哥|姐姐|弟弟"
             r"|妹妹|老师|同学|朋友|小朋友|孩子|小孩|宝宝|婴儿|邻居|叔叔|阿姨|警察|医生|护士|男孩|女孩|老人|路人|村民|百姓"
             r"|家人|自己|妻子|丈夫|儿子|女儿|学生|校长|司机)")
ZH_WEAPON = r"(?:刀|剑|枪|匕首|斧|锤|棍|棒|剪刀|叉|针|箭|弩|弓|砖|石头|刀尖|刀刃|剑尖|枪口)"
ZH_AIM = r"(?:指着|指向|对着|对准|瞄准|抵着|抵住|抵在|架在|顶着|顶在|戳向|刺向|砍向|捅向|挥向|扎向|射向|朝着|冲着)"
ZH_BODY = r"(?:胸(?![口前膛怀针部肌有])|乳房?|下体|私处|隐私部位|裆部?|奶子|大腿根)"  # not 屁股: 揉着屁股 after a fall

ZH_POINT = r"(?:指着|指向|对准|瞄准|抵着|抵住|抵在|架在|挥向|射向)"  # unlike 朝着: aimed, not facing
IN_SENTENCE = r"[^.!?;]"  # the guard checks a clause with the sentence before it: 拿起刀，对准了妈妈

HAN: dict[str, tuple[str, re.Pattern]] = {
    "a weapon aimed at a person": ("weapons", re.compile(
        ZH_WEAPON + NO_STOP + r"{0,6}?" + ZH_AIM + r"了?" + ZH_PERSON
        + r"|" + ZH_WEAPON + IN_SENTENCE + r"{0,16}?" + ZH_POINT + r"了?" + ZH_PERSON)),
    "a blow struck at a person": ("violence", re.compile(
        r"(?:朝|向|对着|冲着)" + ZH_PERSON + r"的?(?:头|脸|身上|肚子|背)?(?:狠狠地?|用力地?)?(?:砍|刺|捅|劈|扎|开枪|开了一枪)")),
    "a blow aimed at a person": ("violence", re.compile(
        r"(?:刺|砍|捅|劈|剁|扎)(?:向|进|入|中|伤|穿)了?" + ZH_PERSON + r"|(?:刺|砍|捅|劈|剁)了" + ZH_PERSON)),
    "strangling": ("violence", re.compile(
        r"(?:掐|勒|扼)(?:住|着|紧|死|了)?" + NO_STOP + r"{0,6}?(?:脖子|喉咙|咽喉|脖颈)"
        r"|(?:掐|勒|扼|闷)" + r"[^.!?;。]{0,12}?(?:不动了|不再动|一动不动|没了?气|断了?气|没有?了?呼吸|停止了?呼吸|喘不上气|喘不过气)")),
    "someone cooked or buried alive": ("violence", re.compile(
        r"活活地?(?:烧|煮|烤|埋|打|淹|饿|冻|剥|蒸|炸|闷|掐|勒|砍|吃)"
        r"|把(?:孩子|小孩|小朋友|人|他|她|他们|她们|宝宝|婴儿)们?(?:扔进|丢进|放进|塞进|推进)?[^,.!?;:。、的]{0,4}?"
        r"(?:煮|烤|蒸|炸)(?:了|熟|死|掉|成)")),
    "undressing and touching": ("sexual", re.compile(
        r"脱(?:了|掉|下|光)?" + ZH_PERSON + r"?的?(?:衣服|裤子|内裤|内衣|裙子|上衣)[^.!?;。]{0,10}?(?:摸|舔|亲|揉|抱)"
        r"|(?:舔|摸|揉|吸|捏|抓|亲|碰)(?:了|着|过)?(?:一下|一把)?(?:" + ZH_PERSON + r"的?)?" + ZH_BODY
        + r"|(?:舔|摸|揉)(?:了|着)?" + ZH_PERSON + r"的下面")),
    "drinking alcohol": ("drugs", re.compile(
        r"(?:喝|饮|灌|斟|倒|敬|端起|举起)(?:了|着|过|完)?(?:一|两|几|半|满|整|一大)?(?:杯|口|瓶|壶|碗|盏|坛)?的?"
        r"[\u4e00-\u9fff]{0,2}?酒(?![店窝精吧家楼馆])")),
    "smoking": ("drugs", re.compile(
        r"(?:抽|吸|叼|点)(?:了|着|起|上)?(?:一|两|几|半)?(?:根|支|口|包)?(?:香烟|雪茄|烟斗|卷烟|烟)(?![花火囱雾])")),
}

# -- English -----------------------------------------------------------------------------------------
EN_PERSON = (r"(?:him|her|them|me|you|us|himself|herself|people|person|everyone|everybody|someone|somebody|anyone"
             r"|teachers?|mom|mum|mommy|mummy|mother|dad|daddy|father|parents?|brothers?|sisters?|grandma|grandpa"
             r"|grandmother|grandfather|kids?|child|children|boys?|girls?|bab(?:y|ies)|man|men|woman|women|lady|ladies"
             r"|guys?|friends?|classmates?|students?|police(?:man|men)?|cops?|officers?|neighbou?rs?|principal"
             r"|doctors?|nurses?|villagers?|soldiers?|king|queen|prince|princess|family|humans?|crowd|wife|husband"
             r"|sons?|daughters?|uncle|aunt|cousins?)")
DET = r"(?:(?:the|a|an|my|his|her|their|your|our|some|all|of|two|three|little|poor|old|young|whole) )*"
EN_WEAPON = r"(?:knife|knives|gun|guns|pistol|rifle|blade|sword|dagger|scissors|axe|machete|crossbow|spear|weapon)"
NOT_A_LOOK = (r"(?! (?:a |an )?(?:\w+ )?(?:look|glance|smile|grin|wink|glare|question|message|text|email|note)s? "
              r"| (?:up |high |straight up )?(?:into|across|through|to|up to) (?:the )?(?:sky|air|clouds|stars|space) )")

LATIN: dict[str, tuple[str, re.Pattern]] = {
    "a weapon aimed at a person": ("weapons", re.compile(
        r" (?:point|aim|wave|hold|held|press|put|swing|swung|raise|pull|brandish)\w* " + DET + r"(?:\w+ )?"
        + EN_WEAPON + r" (?:at|to|against|on|toward|towards) " + DET + r"(?:" + EN_PERSON
        + r"|(?:\w+ )?(?:throat|neck|head|chest|face|back)s?) "
        r"| " + EN_WEAPON + r" (?:\w+ ){0,10}?(?:point|aim|swing|swung|wave|press|thrust|jab|stab|slash)\w* "
        r"(?:it|them|the \w+) (?:at|to|against|toward|towards|into) " + DET + EN_PERSON + r" ")),
    "shooting a person": ("weapons", re.compile(
        r" (?:(?:shoot|shoots|shooting|shot|gun|guns|gunned|gunning)(?: down| at)?|(?:fire|fired|firing|opened fire) (?:at|on))"
        r" " + DET + EN_PERSON + NOT_A_LOOK + r" ")),
    "a blow aimed at a person": ("violence", re.compile(
        r" (?:stab|stabs|stabbed|stabbing|slash|slashed|slashing|knifed|strangle|strangled|strangling|choke|choked"
        r"|choking|throttle|throttled|smother|smothered|suffocate|suffocated|behead|beheaded) " + DET + EN_PERSON
        + r" (?!(?:with|in) (?:love|kisses|hugs|tickles|kindness)\b)")),
    "strangling": ("violence", re.compile(
        r" (?:strangl|chok|throttl|squeez|wrapp?|press)\w* (?:\w+ ){0,4}?(?:neck|throat)s? (?:\w+ ){0,5}?(?:until|till)"
        r"| (?:until|till) (?:he|she|they|his|her|the \w+|their \w+) (?:stopped|stops|stop|quit|no longer) (?:moving|breathing) ")),
    "someone cooked or buried alive": ("violence", re.compile(
        r" (?:boil|burn|bury|buried|skin|cook|roast|fry|fried|bake|freeze|froze|frozen|grill|steam)\w* (?:\w+ ){0,3}alive "
        r"| (?:boil|cook|roast|fry|fried|bake|grill|steam)\w* " + DET
        + r"(?:children|child|kids|kid|boys?|girls?|bab(?:y|ies)|people|humans?|villagers|students) "
        r"(?:$|up |alive |for (?:dinner|supper|lunch) |(?:in|into) (?:a |the |her |his |their |big )?"
        r"(?:pot|oven|cauldron|pan|stew|soup|pie|fire) )")),
    "someone put to sleep forever": ("violence", re.compile(
        r" (?:make|made|put|send|sent|let|force|forced)\w* " + DET + r"(?:\w+ )?" + EN_PERSON
        + r" (?:to )?(?:go to )?(?:sleep|rest) (?:forever|for ever|for good|permanently) "
        r"| (?:he|she|they|you|him|her|them) (?:would |will |could |might |shall )?never (?:wake|woke|wakes) up ")),
    "not wanting to live": ("self_harm", re.compile(
        r" (?:don t|do not|doesn t|does not|didn t|never) (?:want|wanted|wanna) to (?:live|be alive)(?: anymore| any more)? $"
        r"| (?:don t|do not|doesn t|does not|didn t) (?:want|wanna) to (?:live|be alive|exist) (?:anymore|any more) ")),
    "undressing and touching": ("sexual", re.compile(
        r" (?:took|take|takes|taking|pulled|pull|pulls|ripped|rip|tore|tear|removed|remove)(?: off| down)? (?:\w+ ){0,2}?"
        r"(?:clothes|clothing|pants|trousers|shirt|underwear|panties|knickers|bra|dress|skirt|top)(?: off)? (?:\w+ ){0,4}?"
        r"(?:and|then|to) (?:\w+ ){0,2}?(?:touch|feel|felt|rub|kiss|lick|grope|fondle)\w* "
        r"| (?:touch|feel|felt|rub|lick|grope|fondle)\w* (?:(?:him|her|me|you|them) )?(?:his |her |my |your |their )?"
        r"(?:privates?|private parts?|crotch|breasts?|boobs|genitals?|down there|under (?:his|her|my|your) "
        r"(?:clothes|skirt|shirt|pants|underwear)) ")),
    "sending pictures without clothes": ("sexual", re.compile(
        r" (?:send|sent|show|share|post|text)\w* (?:me |us |him |her )?(?:a |some |your |you )?(?:\w+ )?"
        r"(?:pic|pics|picture|pictures|photo|photos|selfie|selfies|video|videos|vid|vids)(?: of (?:you|yourself|your body))?"
        r" (?:with no|without|with nothing on|naked|nude|in your underwear|no clothes) ")),
    "drinking alcohol": ("drugs", re.compile(
        r" (?:drink|drank|drunk|sip|sipped|sipping|chug|chugged|pour|poured|gulp|gulped)\w* "
        r"(?:(?:a|some|the|his|her|their|more|another|lots|of|glass|glasses|bottle|bottles|pint|can|shot|shots|cup) )*"
        r"(?!ginger |root )(?:\w+ )?(?:wine|beer|vodka|whiske?y|rum|gin|champagne|cocktails?|brandy|tequila|sake|liquor"
        r"|booze|alcohol|martinis?|bourbon|cider|lager|mead|soju|baijiu|moonshine)s? ")),
}

# -- on the folded text, digits kept ----------------------------------------------------------------------
RAW: dict[str, tuple[str, re.Pattern]] = {
    "a gun model": ("weapons", re.compile(
        r"(?<![a-z0-9])(?:ak[\s\-_.]*(?:47|74|12|103)|ar[\s\-_.]*(?:15|10)|mp[\s\-_.]*(?:5|7|40)|m[\s\-_.]*(?:4a1|1911)"
        r"|m16[\s\-_.]*(?:rifle|gun|步枪|突击步枪))(?![0-9])")),
}
