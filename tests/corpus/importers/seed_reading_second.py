"""A second, independent reading of the seed thread (fixtures/seed_thread.txt), as test data.

Written comment by comment from the file alone, before looking at the importer's guesses or
at the first reading (``seed_reading.py``); compared with it only afterwards. Same shape:
``(first line of the comment's text, author, line of the comment it answers)``, None for the
article. Both readings are kept: where careful readers differ, neither is the truth, and the
heuristics should not be tuned to one of them.

Where this reading differs from the first, the note starts with "First reading:". The main
difference is about named replies: the first reading gives each one the comment just above
(the format's rule) even where its content answers a comment further up; this one follows
the content when it is clear (the words it repeats, the claim it answers). The scrape lists
threads depth first, so every parent below is the comment just above or one of its
ancestors, as in the first reading.
"""

from __future__ import annotations

SECOND_READING: list[tuple[int, str, int | None]] = [
    # "I suppose": a reader's aside after one blank line, glued to the article's end.
    (17, "", None),
    (20, "", None),  # a new claim about Lavrov; nothing in 17 to answer
    (24, "Alexey Kozyachiy", 20),  # "I bet US offered...": why Lavrov "plays dirty games"
    (27, "", None),  # "I read the above article": about the article itself
    # "Why not consolidate the Aleppo gains?" offers an answer to the title's question; it
    # could answer 27's puzzlement, but it speaks to nobody.
    (30, "", None),
    (37, "", None),
    (41, "Terence Silvestre Jr.", 37),  # "Your comment made me laugh"
    (44, "", None),
    (48, "Pavel Pustina (ARTforU)", 44),  # "They can not accuse him": 44's "never accuse"
    (51, "", None),
    # "One other thing…": an addendum, the writer of 51 replying to the own comment.
    (54, "", 51),
    (58, "John Whitehot", 54),  # "one, single intel officer ... in the pocket": 54's CIA assets
    (61, "", None),
    (64, "", 61),  # "What is mean everything? ... What is mean blackmail Putin?" quotes 61
    (71, "", 64),  # "Putin be Blackmailed with sanctions": answers 64's question
    # Sanctions are not in the article: it goes on with the thread, against 71's "it works".
    (74, "", 71),
    # "Don't worry, rats are not going anywhere": nothing on the spine (74, 71, 64, 61)
    # worries about the fighters leaving; a new thread on the article.
    (77, "", None),
    (80, "", 77),  # "Not be so sure": the Chechen interrogators of 77 are Sunni
    (83, "", 80),  # the share of Sunni in the SAA, against 80's "they are sunits"
    (87, "Mahmoud Larfi", 83),  # "Actually the figure ...": corrects 83's "50%"
    (90, "", 87),  # "Could be, sure": concedes Mahmoud's figure
    (93, "", None),
    (96, "", 93),  # "He is dinosaur": Lavrov, whose resignation 93 wants
    (100, "John Smith", 96),  # "Lavrov is a progressionist", against "dinosaur"
    (107, "", 100),  # "He is the grave digger", against 100's "the right person"
    (111, "John Smith", 107),  # answers "Serbia ,Donbass" by name
    # "Its a smart move" could start a thread of its own, but a name marks a reply, and it
    # agrees with John Smith's defence of the negotiations.
    (117, "Ole Johansen", 111),
    (130, "", None),  # does not take up 117's "What do you think guys?"
    (134, "888mladen .", 130),
    (138, "Joseph Scott", 134),  # "I agree ... everything you have said"
    (141, "", None),
    (144, "", None),  # "the Palmyra explanation": the article's (line 15)
    (149, "", None),
    # The SANA "Official Reason" for the pause answers 149's "Why Lavrov ... is coming back
    # to ask for a cease fire."
    (153, "Douglas Houck", 149),
    (163, "Terence Silvestre Jr.", 153),  # "Hopefully time will give you reason"
    (167, "Douglas Houck", 163),  # "your thoughts on previous “unilateral” truces"
    (173, "Ole Johansen", 167),  # "a great strategic move": with Douglas's "positive"
    # Echoes 169's "no benefit from this pause" but answers nobody: a new thread.
    (176, "", None),
    (179, "", None),
    (183, "Ole Johansen", 179),  # "There is no agreement", against "The agreement brings"
    (186, "", 183),  # answers "Where do you take this stuff from?"
    (190, "Ole Johansen", 186),  # "Thanks for you your reply"
    # First reading: 190. "I don't believe that is true. Is there a source" is about 186's
    # claim; 190 is a joke with nothing to believe or source. A sibling of 190.
    (194, "Douglas Houck", 186),
    # "No, it does not say this ... not Russian and American experts inside Aleppo" repeats
    # 186's "Russian and American experts" to correct it.
    (197, "", 186),
    # First reading: 197, which agrees with Douglas, so "may assuage your concerns" is not
    # for its writer. "Americans are going inside Aleppo" and "The discussion between ..."
    # answer 179's "The agreement brings Americans inside Allepo.Crazy…", whose worry it
    # soothes; 194 already asked 186 for a source. (186 is the other possible parent.)
    (201, "Douglas Houck", 179),
    # After three blank lines: the RT quote ("Kerry agreed that military experts from
    # Russia and the US should cooperate") is the source for Douglas's "I don't see
    # anywhere", just above.
    (205, "", 201),
    (209, "Douglas Houck", 205),  # "I think you are misreading the article"
    (214, "", 209),  # "We will see.": the writer of 179 answering Douglas
    (218, "Douglas Houck", 214),  # "I agree with you": the last ceasefire of 214
    (222, "VeeNarian (Yerevan)", 218),  # "Yup!": agrees the Russians must not fall for it
    # First reading: 222. "you are right. i fully support the idea of the ceasefire" cannot
    # answer 222, which is against the talks; it takes up 209's case for the pause ("the
    # evacuation of 8,000 civilians", "the facts on the ground" against Marek's "the
    # situation on the ground", "8000 civilians"). 218 is the other possible parent.
    (226, "Marek Pejović", 209),
    (229, "", None),  # sarcasm about the "freedom fighters", for the article
    (232, "", None),
    (236, "", 232),  # a counter-maxim to 232's Sun Tzu, signed "Sun Tzu"
    (239, "", 236),  # "Even if you lose?" questions "before complete defeat"
    # "That saying pertains to a large army being surrounded": 232's "surrounded enemy" and
    # "way of escape", not 236's maxim.
    (242, "", 232),
    (245, "", None),
    (250, "", 245),  # "1st these are no rebels": against 245's "the rebels"
    (257, "", None),
    (260, "", None),
    # First reading: None. "ISil , Nusra and all other oposition rebel are same" answers
    # 260's closing question about "those ISUS squads" and its Al-Nusra (told apart from
    # ISIS there); the article's own claim (line 15) makes None the other possible parent.
    (263, "", 260),
    # Sun Tzu again, but the thread of 232 ended at 242: depth-first order makes it new.
    (266, "", None),
    # "giving 'out' clauses" recalls 266's "leave an outlet free", but its question (foreign
    # personnel trapped in Aleppo, offered a way out) is the article's question (line 11).
    (271, "", None),
]

SECOND_NAMED_REPLIES = [(line, author, parent) for line, author, parent in SECOND_READING if author]
