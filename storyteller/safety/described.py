"""Harm described without a harm word: what happens is told, the word for it is not. "He never got
up again", 地上红红的一大片, "deserve no friends", 饿瘦了大家就喜欢你了, "sniffed them up his nose".
No word list can hold these; each rule below names one way of telling, and needs its victim, its
effect or its purpose in the same clause, so the genre stays allowed: the monster may fall off the
cliff, 把怪兽扔进大海 and "too scared to sleep, so Mom told him a story" pass.

Rules run like context.py's (policy.find via patterns.py): Latin rules on the padded lowercase
words (" he never got up again "), Han rules on the Han view (in a typed field, Han characters
only), RAW rules on the folded text with its digits and symbols.
"""

from __future__ import annotations

import re

from storyteller.safety.context import DET, EN_PERSON, NO_STOP, ZH_PERSON

# -- Chinese -----------------------------------------------------------------------------------------
SENTENCE = r"[^.!?;。]"  # inside one sentence (commas allowed)
ZH_ANIMAL = (r"(?:小狗|狗狗|小猫咪?|猫咪|小鸟|鸟儿|小兔子?|兔子|小鸡|小鸭子?|仓鼠|小动物|动物|宠物|小羊|小猪|小马|熊猫"
             r"|狗|猫|鸟)")
ZH_VICTIM = r"(?:" + ZH_PERSON + r"|" + ZH_ANIMAL + r")"
ZH_TOOL = r"(?:弹弓|菜刀|水果刀|小刀|刀子|剪刀|棍子|木棍|铁棍|棒球棍|砖头|石头|弓箭|弩|枪|刀|剑|斧头|锤子)"
# groups that hate speech says are worse by birth or by origin, and the traits it gives them; a gender
# only with "by birth" (踢完球，男孩子们都脏兮兮的 is mud, not hate)
ORIGINS = r"农村|乡下|外地|外国|民族|种族|黑人|白人|穷人|胖子|残疾|盲人|聋|哑巴|某些人|有些人|这些人|那些人|这种人|那种人"
ZH_ORIGIN = r"(?:" + ORIGINS + r")"
ZH_GROUP = r"(?:女孩子?|女生|女人|男孩子?|男生|男人|" + ORIGINS + r")"
ZH_TRAIT = r"(?:笨|蠢|傻|坏|脏|懒|低人一等|低等|下贱|贱|爱偷|小偷|偷东西|没用|野蛮|臭|丑|不如|比不上)"
ZH_MOCKED = (r"(?:残疾|盲人|瞎子|聋子|聋哑|哑巴|瘸子|胖子|穷人|农村|乡下|外地|外国|黑人|白人|小个子|矮子|结巴|口吃|坐轮椅"
             r"|弱小)")
ZH_DETAILS = r"(?:家庭)?(?:地址|住址|电话号码|电话|手机号码?|学校的?名字|学校名|学校|真名|真实姓名|全名|密码|身份证号?)"
NOT_DONE = r"(?<![不别])(?<!不要)(?<!不许)(?<!不能)(?<!不会)(?<!不该)(?<!不再)(?<!停止)"  # 不要嘲笑别人 is kind

HAN: dict[str, tuple[str, re.Pattern]] = {
    "thrown to its death": ("violence", re.compile(
        r"把" + ZH_VICTIM + r"们?(?:狠狠地?)?(?:扔|丢|推|踢|抛|摔)(?:进|下|到|入)了?" + NO_STOP + r"{0,3}?"
        r"(?:井|河|湖|海|火|悬崖|山崖|山谷|楼下|窗外|油锅|开水)"
        r"|把" + ZH_VICTIM + r"们?从(?:楼上|楼顶|窗口|窗户|阳台|悬崖|山崖|桥上|高处)(?:扔|丢|推|踢|抛)了?下")),
    "stamped on": ("violence", re.compile(
        r"(?:一脚|狠狠地?|用力地?|重重地?)(?:踩|踏|跺|压|坐)(?:在|到|住)?了?" + NO_STOP + r"{0,6}?" + ZH_VICTIM
        + r"的?(?:身上|头上|脸上|肚子上|背上)"
        r"|(?:踩|踏|压|碾|砸)(?:扁|死|碎|烂)了?" + NO_STOP + r"{0,4}?" + ZH_VICTIM
        + r"|把" + ZH_VICTIM + r"(?:踩|踏|压|碾|砸)(?:扁|死|碎|烂)")),
    "never to move again": ("violence", re.compile(
        r"再也(?:没|没有|不会|不能)(?:醒来|醒过来|睁开眼睛?|动弹|(?:听到|听见)(?:它|他|她)的?(?:叫声|叫|声音|哭声|说话|呼吸))")),
    "blood said another way": ("violence", re.compile(
        r"(?:地上|地面|满地|一地|地板上)" + NO_STOP + r"{0,2}?(?:红红的|鲜红的?|红色的)"
        r"(?:一大?片|一大?滩|一大?摊)(?![\u4e00-\u9fff])")),
    "sent to the afterlife": ("violence", re.compile(
        r"送" + NO_STOP + r"{0,8}?去?见(?:太奶(?!奶)|太姥(?!姥)|太爷(?!爷)|祖宗|列祖列宗|阎王|马克思|上帝|佛祖|如来)")),
    "a weapon used on a person": ("weapons", re.compile(
        r"(?:用|拿|举起|掏出|拿着|举着|带着|端着)" + ZH_TOOL + NO_STOP + r"{0,6}?(?:专门|专|只|去|来|就|一直)?"
        r"(?:打|射|砸|戳|扎|刺|砍|捅|劈|扫射|突突)了?" + ZH_PERSON
        + r"|" + ZH_TOOL + NO_STOP + r"{0,6}?(?:追着|追赶着?|冲向|扑向)" + ZH_PERSON + NO_STOP
        + r"{0,3}?(?:砍|刺|捅|扎|劈|戳|射|打)"
        r"|(?:突突突?|扫射|射杀|爆头)了?" + ZH_PERSON)),
    "rising from the grave": ("horror", re.compile(
        r"(?:坟|坟墓|坟地|棺材|墓)里?(?:爬|钻|伸)出|爬出(?:坟|坟墓|棺材)")),
    "eating children": ("horror", re.compile(  # not 吃了宝宝做的蛋糕, 吃小朋友的饼干
        r"(?:吃|吞)(?:掉|下)?了?(?:小孩|孩子|小朋友|小宝宝|宝宝|婴儿|小女孩|小男孩|女孩|男孩)"
        r"(?![子们]?(?:的(?:饼干|蛋糕|糖|零食|东西|饭|点心|面包|水果|早餐|午饭|晚饭|便当)|做|给|送|带|剩|吃|一起|喜欢))")),
    "a face gone, a voice calling you": ("horror", re.compile(
        r"(?:没了|没有了)脸|(?:床底下?|床下|衣柜里|镜子里|黑暗里|窗外)" + NO_STOP + r"{0,10}?(?:叫|喊|念|低声说)着?你的名字")),
    "made to be as scary as can be": ("horror", re.compile(
        r"越(?:吓人|恐怖|可怕|惊悚|血腥)越好"
        r"|(?:让|使|吓得|吓到)(?:小朋友|孩子|大家|你|读者|人)们?" + NO_STOP + r"{0,4}?(?:不敢睡觉|不敢睡|睡不着|做噩梦|尿裤子)"
        r"|(?:看了|听了|读了)" + NO_STOP + r"{0,4}?(?:会|就会)做噩梦")),
    "seeing through clothes": ("sexual", re.compile(
        r"(?:看穿|看透|透视|透过)" + NO_STOP + r"{0,6}?(?:衣服|衣裳|裙子|内衣|内裤)")),
    "peeping": ("sexual", re.compile(
        r"(?:偷看|偷窥|偷偷看|偷拍)" + NO_STOP + r"{0,6}?(?:洗澡|换衣服|上厕所|尿尿|裙底|裙子里)"
        r"|(?:洗澡|换衣服|上厕所)" + NO_STOP + r"{0,4}?被?(?:偷看|偷窥|偷拍|看光)")),
    "a story with colour": ("sexual", re.compile(
        r"(?:带点|带一点|带些|有点)(?:颜色|黄色?)的?(?:故事|段子|笑话|视频|图片|内容|那种|小说)")),
    "cutting one's arm": ("self_harm", re.compile(
        r"(?:小刀|刀片|刀子|刀|剪刀|玻璃片?|碎玻璃|美工刀|铅笔刀)在(?:自己的?)?(?:手臂|手腕|胳膊|腿|大腿|手背|身上|皮肤|脸)上?"
        + NO_STOP + r"{0,3}?(?:划|割|刻|戳|扎)"
        r"|在自己的?(?:手臂|手腕|胳膊|腿|大腿|身上)上?(?:划|割|刻)")),
    "jumping so sadness ends": ("self_harm", re.compile(
        r"(?:跳下去|跳了下去|跳楼|跳河|跳海|跳桥)" + SENTENCE + r"{0,12}?(?:再也不用|再也不会|就不用|就不会|一了百了|解脱|永远不用)")),
    "sleeping forever, oneself": ("self_harm", re.compile(
        r"自己永远(?:睡着|睡下去|不醒|醒不来|醒不过来|闭上眼睛)")),
    "starving to be liked": ("self_harm", re.compile(
        r"饿着?自己|不让自己吃饭"
        r"|(?:不吃饭|别吃饭|不要吃饭|不吃东西)" + NO_STOP + r"{0,4}?(?:就|才|才能|就能|就会)?(?:饿瘦|变瘦|瘦下来|变漂亮|变好看)"
        r"|(?:饿瘦|变瘦|瘦)了?" + SENTENCE + r"{0,4}?(?:大家|别人|同学|他们)?就会?喜欢你"
        r"|(?:不吃饭|饿)" + NO_STOP + r"{0,6}?才(?:漂亮|好看|会瘦|能瘦|变瘦)")),
    "sniffing a powder": ("drugs", re.compile(
        r"(?:吸|闻|嗑|吞)(?:了|一口|一点|一下|几口)?(?:(?:神奇|魔法|奇怪|白色|白)的?){0,3}粉末")),
    "handing out cigarettes": ("drugs", re.compile(
        r"(?:发|递|给|送|分|买)(?:了|给)?" + NO_STOP + r"{0,6}?(?:一|两|几|每人一)(?:根|支|包|盒)(?:香烟|烟|雪茄)(?![花火囱雾台])")),
    "a group called worse by birth": ("hate", re.compile(
        ZH_GROUP + NO_STOP + r"{0,6}?(?:天生|生来|本来)就?(?:是|爱|很|都)?" + NO_STOP + r"{0,5}?" + ZH_TRAIT
        + r"|" + ZH_ORIGIN + NO_STOP + r"{0,6}?(?:全都|都|就是)(?:是|很|那么)?" + ZH_TRAIT
        + r"|" + ZH_GROUP + NO_STOP + r"{0,6}?(?<!自己)不配")),
    "mocking who is different": ("hate", re.compile(
        NOT_DONE + r"(?:嘲笑|取笑|讥笑|嘲弄|歧视|看不起|瞧不起|挖苦)(?:那些|这些)?" + NO_STOP + r"{0,4}?" + ZH_MOCKED)),
    "asking for the reader's details": ("personal_data", re.compile(
        r"(?:请|让|叫|要|快)" + NO_STOP + r"{0,8}?(?:你|你们|自己|小读者|读者|小朋友们?|孩子们?)" + NO_STOP
        + r"{0,2}?(?:(?:爸爸|妈妈|爸妈|爸爸妈妈|家人)的)?(?:家里?)?的?" + ZH_DETAILS
        + r"|(?:把|告诉我|发给我|写下|输入|填写|报出)(?:你|你们)(?:家里?)?的?" + ZH_DETAILS)),
}

# -- English -----------------------------------------------------------------------------------------
EN_ROLE = (r"(?:farmers?|fisherm[ae]n|shepherds?|hunters?|merchants?|workers?|servants?|maids?|guards?|monks?|beggars?"
           r"|travell?ers?|shopkeepers?|drivers?|pilots?|chefs?|cooks?|waiters?|strangers?|granny|grandad|emperor)")
EN_ANIMAL = (r"(?:pupp(?:y|ies)|dogs?|kittens?|cats?|birds?|bunn(?:y|ies)|rabbits?|hamsters?|ponies|pony|horses?|ducks?"
             r"|ducklings?|chicks?|animals?|pets?|lambs?|piglets?|mouse|mice|frogs?|squirrels?|pandas?)")
EN_VICTIM = r"(?:" + EN_PERSON + r"|" + EN_ROLE + r"|" + EN_ANIMAL + r")"
EN_HEIGHT = r"(?:cliffs?|roofs?|rooftops?|edge|bridges?|balcon(?:y|ies)|towers?|windows?|ledges?|wells?)"
EN_TOOL = (r"(?:knife|knives|gun|guns|pistol|rifle|blade|sword|dagger|scissors|axe|machete|crossbows?|spear|weapon"
           r"|slingshots?|catapults?|bows?|arrows?|darts?|hammer)")
NEVER = r"(?<!never)(?<!not)(?<!don t)(?<!stop)(?<!stopped)(?<!didn t)(?<!won t)(?<! no)"  # "never bullied anyone"

LATIN: dict[str, tuple[str, re.Pattern]] = {
    "pushed from a height": ("violence", re.compile(
        r" (?:push|pushed|pushes|pushing|shove|shoved|shoves|shoving|kick|kicked|kicks|throw|threw|thrown|throws|toss|tossed"
        r"|drop|dropped) " + DET + r"(?:\w+ ){0,2}?" + EN_VICTIM + r" (?:\w+ ){0,2}?(?:off|over|from|out of|down) "
        r"(?:the |a |an )?(?:\w+ )?" + EN_HEIGHT + " "
        r"| (?:gave|give|gives|giving) " + DET + r"(?:\w+ ){0,2}?" + EN_VICTIM + r" (?:a |an )?(?:\w+ )?(?:push|shove|kick) "
        r"(?:off|over|from|down|out of) (?:the |a )?(?:\w+ )?" + EN_HEIGHT + " ")),
    "never to move again": ("violence", re.compile(
        r" never (?:got|get|gets|stood|stand|stands) up again | never (?:breathed|moved|stirred|opened (?:his|her|its|their) "
        r"eyes) again | never (?:woke|wake|wakes) up again "
        r"| (?:into|under|in) the (?:\w+ )?(?:river|sea|lake|water|pond|well|waves|pool|ocean) (?:\w+ ){0,2}?never "
        r"(?:came|come|comes) (?:back )?up again ")),
    "until it stopped moving": ("violence", re.compile(
        r" (?:until|till) (?:it|he|she|they|the \w+|his \w+|her \w+|its \w+) (?:\w+ )?(?:stopped|stops|quit|no longer) "
        r"(?:wriggling|wiggling|twitching|squirming|kicking|squeaking|whimpering|moving|breathing) "
        r"| went (?:flat|limp|stiff|cold|still) and (?:quiet|still|cold|silent) ")),
    "cut-off heads, red rivers": ("violence", re.compile(
        r" (?:severed|cut off|chopped off|lopped off|hacked off|ripped off|torn off) (?:\w+ )?(?:heads?|limbs?|arms?|legs?"
        r"|hands?|fingers?) | rivers? (?:ran|run|runs|running|flowed|flow|flows) red (?!with (?:leaves|petals|flowers"
        r"|paint|dye|lanterns|light|sunset|sunlight) )")),
    "a weapon used on a person": ("weapons", re.compile(
        r" " + EN_TOOL + r" (?:\w+ ){0,6}?(?:aim|aims|aimed|aiming|point|points|pointed|pointing|fire|fires|fired|firing) "
        r"(?:\w+ )?(?:at|toward|towards) " + DET + r"(?:\w+ )?" + EN_PERSON + r" "
        r"| " + EN_TOOL + r" (?:\w+ ){0,4}?(?:for|to) (?:poke|poking|jab|jabbing|prod|prodding|stab|stabbing|hit|hitting"
        r"|hurt|hurting|cut|cutting|shoot|shooting) " + DET + r"(?:\w+ )?" + EN_PERSON + r" ")),
    "rising from the grave": ("horror", re.compile(
        r" (?:crawl|crawls|crawled|crawling|climb|climbs|climbed|climbing|rise|rises|rose|risen|rising|claw|claws|clawed"
        r"|dig|digs|dug) (?:up )?(?:out of|from) (?:the |a |their |his |her |its )?(?:\w+ )?(?:graves?|coffins?|tombs?"
        r"|crypts?) ")),
    "wearing people's skin": ("horror", re.compile(
        r" (?:wear|wears|wore|wearing|worn) (?:people s|persons|person s|a person s|human|someone s|somebody s|children s"
        r"|kids|kid s|your|their|his|her) skins? (?!tight |suit |cream |colou?r )")),
    "a face that comes off, a voice calling you": ("horror", re.compile(
        r" (?:its|his|her|their|your|my|the) (?:face|skin|eyes|eyeballs) (?:peeled|peeling|peels|melted|melting|melts|rotted"
        r"|rotting|rots|slid|sliding|dripped|dripping) (?:off|away|down) "
        r"| (?:whisper|whispers|whispered|whispering|call|calls|called|calling|hiss|hisses|hissed|chant|chants|chanted"
        r"|scream|screams|screamed) your name (?:from|under|inside|behind|in the dark|at night|through) ")),
    "made to scare the reader": ("horror", re.compile(
        r" (?:make|makes|made|making|leave|leaves|left) (?:\w+ ){0,2}?(?:too scared to sleep|scared to sleep|unable to sleep"
        r"|have nightmares|wet (?:the|their|your) beds?) "
        r"| so (?:scary|creepy|frightening|terrifying) (?:that )?(?:you|kids|children|the reader|readers) (?:\w+ ){0,2}?"
        r"(?:hide|cry|scream|pee|wet|faint|can t sleep|won t sleep|never sleep|have nightmares) "
        r"| (?:the scarier the better|as scary as possible|scariest (?:story |stories |thing )?ever) ")),
    "undressing for someone": ("sexual", re.compile(
        r" (?:took|take|takes|taking) off (?:all )?(?:her|his|their|my|your) (?:clothes|dress|shirt|pants|underwear|skirt"
        r"|bra|knickers|panties) (?:for|in front of) (?:the |a |her |his )?(?:\w+ )?(?:prince|princess|king|queen|man|men"
        r"|boy|boys|girl|girls|hero|him|her|them|everyone|teacher|stranger|camera) ")),
    "seeing through clothes": ("sexual", re.compile(
        r" (?:see|sees|seeing|saw|seen) (?:right |straight )?through (?:\w+ ){0,2}?(?:clothes|clothing|skirts?|dress"
        r"|dresses|underwear|shirts?|pants|trousers) ")),
    "peeping": ("sexual", re.compile(
        r" (?:peek|peeks|peeked|peeking|peep|peeps|peeped|peeping|spy|spies|spied|spying) (?:on |at )?" + DET
        + r"(?:\w+ )?" + EN_PERSON + r" (?:\w+ ){0,2}?(?:showering|bathing|undressing|changing|getting undressed"
        r"|in the shower|in the bath|in the bathroom|on the toilet|taking a (?:shower|bath)) ")),
    "everyone better off without me": ("self_harm", re.compile(
        r" (?:would|will|d|could|might) be (?:so much |much |a lot )?(?:happier|better off|better) without "
        r"(?:me|him|her|them|you|us) "
        r"| (?:would|will|d|could|might) be (?:so much |much |a lot )?(?:happier|better off|better) if (?:i|he|she) "
        r"(?:disappeared|was gone|were gone|died|wasn t here|weren t here|never existed|was never born|wasn t born) ")),
    "cutting oneself, described": ("self_harm", re.compile(
        r" (?:where|how) to cut (?:\w+ ){0,2}?so (?:that )?(?:it|they|nobody|no one|the \w+) (?:doesn t|don t|won t|can t"
        r"|does not|do not|will not|cannot) (?:show|see|notice) "
        r"| (?:where|how) to cut (?:yourself|themselves|myself|(?:your|their) (?:arms?|wrists?|legs?|skin)) "
        r"| (?:cut|cuts|cutting|carve|carves|carved|carving|slice|sliced|slicing|slash|slashed|slashing|scratch|scratched"
        r"|scratching) (?:lines|marks|cuts|scratches|words|letters|a line|a mark|himself|herself|themselves|myself|yourself) "
        r"(?:\w+ ){0,2}?(?:into|on|in|along|across) (?:his|her|my|your|their) (?:own )?(?:arms?|wrists?|legs?|thighs?|skin) "
        r"| (?:drew|draw|draws|drawing|made|make|makes|making) (?:lines|marks|cuts|scratches) on (?:his|her|my|your|their) "
        r"(?:own )?(?:arms?|wrists?|legs?|thighs?|skin) with (?:a |the |his |her )?(?:razor|razor blade|blade|knife"
        r"|broken glass|glass|scissors) ")),
    "starving to look thin": ("self_harm", re.compile(
        r" (?:skip|skips|skipped|skipping|stop|stops|stopped|stopping|refuse|refuses|refused|refusing|quit|quits) "
        r"(?:eating|to eat|every meal|all (?:her|his|their|my|your) meals|(?:her|his|their|my|your) meals|meals|food) "
        r"(?:\w+ ){0,8}?(?:until|till|so|to|because) (?:\w+ ){0,4}?(?:ribs|bones|skinny|thinner|thin|pretty|prettier"
        r"|lose weight|look good|beautiful) "
        r"| (?:until|till) (?:his|her|their|my|your) (?:ribs|bones|hip bones|collarbones) (?:showed|show|shows|stuck out"
        r"|stick out|poked out) ")),
    "sniffing pills": ("drugs", re.compile(
        r" (?:snort|snorts|snorted|snorting|sniff|sniffs|sniffed|sniffing|inhale|inhales|inhaled|inhaling) (?:\w+ ){0,2}?"
        r"(?:pills?|powder|tablets?|them|it|glue|stuff|lines?|crumbs) (?:up|into) (?:his|her|their|my|your) "
        r"(?:nose|noses|nostrils?) "
        r"| (?:crush|crushes|crushed|crushing|grind|grinds|ground) (?:up )?(?:\w+ ){0,2}?(?:pills|tablets) ")),
    "a group called worse by birth": ("hate", re.compile(
        r" (?:are|is|were|was) (?:\w+ ){0,2}?(?:born|naturally|by nature) (?:dirty|stupid|dumb|lazy|evil|bad|worse|inferior"
        r"|thieves|criminals|ugly|weak|losers|slaves|savages?|less (?:clever|smart|intelligent|good|worthy|human|able)) "
        r"| (?:girls|women|she|her) (?:\w+ ){0,2}?(?:belong|belongs|stay|stays|should stay|must stay) in the kitchen "
        r"| (?:poor|fat|foreign|black|brown|white|disabled|country|village|immigrant) (?:kids|people|children|families|girls"
        r"|boys) (?:all )?(?:smell|stink|are (?:all )?(?:dirty|smelly|gross|stupid|lazy|thieves|disgusting)) ")),
    "deserving no friends": ("hate", re.compile(
        r" (?:deserve|deserves|deserved|deserving) (?:no (?:friends|love|fun)|to (?:be|get) (?:hated|bullied|laughed at"
        r"|alone|left out|picked on)|to suffer|nothing but) ")),
    "calling someone worthless": ("hate", re.compile(
        r" (?:he|she|you|u) (?:is|are|re|s|was|were) (?:so |such |totally |completely |just |really |a )*(?:useless"
        r"|worthless|pathetic|disgusting|a waste of space|a waste of air|a nobody|garbage|trash|a freak) ")),
    "mocking who is different": ("hate", re.compile(
        NEVER + r" (?:mock|mocks|mocked|mocking|tease|teases|teased|teasing|laugh at|laughs at|laughed at|laughing at"
        r"|make fun of|makes fun of|made fun of|making fun of|pick on|picks on|picked on|picking on|bully|bullies|bullied"
        r"|bullying) (?:\w+ ){0,4}?(?:disabled|wheelchair|wheelchairs|crutches|blind|deaf|stutter|stutters|stuttering"
        r"|fat kids?|poor kids?|skin colou?r|accent) ")),
    "asking for the reader's details": ("personal_data", re.compile(
        r" (?:type|tell|send|give|share|write|enter|post|say|whisper|text) (?:\w+ ){0,3}?(?:your|their) (?:own )?"
        r"(?:home |full |real |house |street |school )?(?:address|addresses|phone number|phone numbers|password|passwords"
        r"|school name|real name|real names|full name|full names|last name|surname) ")),
}

# -- on the folded text, digits and symbols kept -----------------------------------------------------------
RAW: dict[str, tuple[str, re.Pattern]] = {
    "for adults only": ("sexual", re.compile(r"(?<![\d+])18\s*\+(?!\s*\d)|(?<![a-z\d])r\s*-?\s*18(?!\d)|18\s*禁")),
    "a password": ("personal_data", re.compile(
        r"(?:password|passcode|passwd|密码|口令)\s*(?:is|was|:|是|为|=)\s*[\"'“‘]?[\w.\-]*\d")),
}
