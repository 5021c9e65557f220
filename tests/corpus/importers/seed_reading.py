"""A person's reading of the seed thread (fixtures/seed_thread.txt), as data for the tests.

Written by reading the file line by line, before and independently of the importer's
guesses, so that the tests measure how far the heuristics agree with a careful reader.
Each entry is ``(first line of the comment's text, author, line of the comment it answers)``
with None for the article. Named replies follow the format's rule (the name introduces a
reply to the comment just above); where the content suggests otherwise, a note says so.

The scrape lists threads depth first, so every reply below answers the comment just above
it or one of that comment's ancestors; the reading was checked against that.
"""

from __future__ import annotations

ARTICLE_LINES = (5, 7, 9, 11, 13, 15)
ARTICLE_END = 15

SEED_READING: list[tuple[int, str, int | None]] = [
    # First person, after one blank line only: the first comment, glued to the article.
    (17, "", None),
    (20, "", None),  # about Lavrov, not an answer to the joke at 17
    (24, "Alexey Kozyachiy", 20),
    (27, "", None),  # "I read the above article": about the article
    (30, "", None),  # offers its own answer to the article's question
    (37, "", None),
    (41, "Terence Silvestre Jr.", 37),
    (44, "", None),
    (48, "Pavel Pustina (ARTforU)", 44),
    (51, "", None),
    # "One other thing…": the writer of 51 adds to it (replies to the own comment above).
    (54, "", 51),
    (58, "John Whitehot", 54),
    (61, "", None),
    (64, "", 61),  # "What is mean everything?" quotes 61
    # Explains "blackmail" asked about at 66 (part of 64); same writer as 61 by style.
    (71, "", 64),
    (74, "", 71),  # carries on about sanctions
    # "Don't worry, rats are not going anywhere" fits nothing on the spine (74, 71, 64,
    # 61): a new thread about the besieged fighters.
    (77, "", None),
    (80, "", 77),  # "Not be so sure" about the Chechen interrogators of 77
    (83, "", 80),  # answers "they are sunits" with how many of the SAA are Sunni
    (87, "Mahmoud Larfi", 83),
    (90, "", 87),  # "Could be, sure": concedes Mahmoud's figure
    (93, "", None),
    (96, "", 93),  # "He" is Lavrov, whose resignation 93 wishes
    (100, "John Smith", 96),
    (107, "", 100),  # "He is the grave digger": against 100's praise of Lavrov
    (111, "John Smith", 107),
    # Named, so it answers 111 by the format's rule, though it reads like a new thread.
    (117, "Ole Johansen", 111),
    (130, "", None),
    (134, "888mladen .", 130),
    (138, "Joseph Scott", 134),
    (141, "", None),
    (144, "", None),  # the Palmyra explanation is the article's (line 15)
    (149, "", None),
    (153, "Douglas Houck", 149),
    (163, "Terence Silvestre Jr.", 153),
    (167, "Douglas Houck", 163),
    (173, "Ole Johansen", 167),
    (176, "", None),
    (179, "", None),
    (183, "Ole Johansen", 179),
    (186, "", 183),  # answers "Where do you take this stuff from?"
    (190, "Ole Johansen", 186),
    # By content Douglas answers 186 (a sibling of 190); the format only says "above".
    (194, "Douglas Houck", 190),
    # "No, it does not say this": corrects the reading of 186, skipping 190 and 194.
    (197, "", 186),
    (201, "Douglas Houck", 197),
    # After three blank lines: the writer of 186 quotes RT as the source asked for; it
    # answers Douglas's last message just above.
    (205, "", 201),
    (209, "Douglas Houck", 205),
    (214, "", 209),  # "We will see." goes on with Douglas (same writer as 179/186)
    (218, "Douglas Houck", 214),
    (222, "VeeNarian (Yerevan)", 218),
    (226, "Marek Pejović", 222),
    (229, "", None),
    (232, "", None),
    (236, "", 232),  # after three blank lines: a counter-maxim to 232's Sun Tzu
    (239, "", 236),  # "Even if you lose?"
    (242, "", 232),  # "That saying": explains 232's maxim about a surrounded enemy
    (245, "", None),
    (250, "", 245),  # "these are no rebels": objects to 245 calling them rebels
    (257, "", None),
    (260, "", None),
    (263, "", None),  # a standalone claim; mentions Nusra like 260 but answers nobody
    # Quotes Sun Tzu again, but 232's thread closed at 242: depth-first order makes it new.
    (266, "", None),
    (271, "", None),
]

NAMED_REPLIES = [(line, author, parent) for line, author, parent in SEED_READING if author]
