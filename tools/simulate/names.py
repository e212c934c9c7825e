"""names: the made-up world's vocabulary, people, domains and networks, and a stable hash.

SUMMARY
    FIRST, LAST              given names and surnames of users and their contacts
    LOCAL_DOMAINS            the simulated server's domains (corp.example, shop.example)
    PARTNER_WORDS, FREEMAIL, DEAD_PARTNERS    external domains users write to
    SYLLABLES                made-up words (spam domains, botnet helos)
    ATTACK_NETS, ATTACK_COUNTRIES             first octets of attackers' addresses by country
    DICT_USERS               the usernames of password-guessing dictionaries
    hash_str(text) -> int    a stable string hash (the same in every process)

INPUT
    None: constants. Every name is made up; addresses come from documentation, benchmarking and
    otherwise public-looking ranges.

OUTPUT
    Read by population.py (the world), users.py, attacks.py and inbound.py (their traffic).

DIAGNOSTICS
    None.
"""

FIRST = ("alice bob carol dave erin frank grace heidi ivan judy ken laura mallory niaj olivia peggy "
         "quentin rupert sybil trent ursula victor walter xena yuki zoe akira bruno chiara dmitri "
         "elena farid gita hana ines jonas kaito lena mateo nadia omar petra rosa sanjay tomas "
         "ulla vera wen xavier yara zeynep anouk bjorn celine diego emma felix gabriel hugo "
         "isabel jun karin luca mika noor oscar pia rafael sofia taro uma viktor").split()
LAST = ("smith meyer tanaka rossi dubois novak garcia kowalski jensen silva nakamura muller "
        "schmidt lopez moreau ivanova berg costa weber fischer sato suzuki kim park chen wang "
        "nguyen ali khan haddad okafor mensah larsen nilsson virtanen horvat popescu petrov "
        "romano ferrari bianchi martin bernard roux fontaine laurent olsen lindqvist keller "
        "baumann wagner becker hoffmann schulz koch richter klein wolf neumann").split()
LOCAL_DOMAINS = ("corp.example", "shop.example")
PARTNER_WORDS = ("acme globex initech umbrella hooli vandelay wayne stark tyrell cyberdyne soylent "
                 "wonka oscorp monarch piedpiper dunder sterling prestige krusty bluth duff "
                 "nakatomi massive virtucon gekko axiom zorg aperture blackmesa").split()
FREEMAIL = ("bigmail.example", "webpost.test", "mailbox.example")
DEAD_PARTNERS = ("oldpartner.example", "defunct-supplies.test")
SYLLABLES = ("ka ro mi ta ne lu vo zi pe sa do ri mo na te gu fi la be ko "
             "xu ya ze ni po qua tri ste gla bro fen dal mar").split()
ATTACK_NETS = {  # first octets that look like public space in assorted countries
    "CN": (36, 58, 113, 117, 183, 222), "RU": (5, 31, 46, 91, 95, 178, 188),
    "BR": (177, 179, 186, 187, 189, 191), "VN": (14, 27, 113, 171), "IN": (49, 103, 106, 122),
    "US": (23, 45, 64, 104, 107, 162), "NL": (37, 77, 185), "ID": (36, 110, 114, 180),
    "TR": (78, 85, 88), "UA": (46, 91, 176), "KR": (1, 112, 121, 175, 211),
    "IR": (2, 5, 37, 91), "NG": (41, 102, 105, 197), "PK": (39, 111, 119, 182),
    "AR": (181, 186, 190), "MX": (187, 189, 201), "RO": (5, 79, 86, 89), "TH": (1, 49, 58, 171),
}
ATTACK_COUNTRIES = tuple(ATTACK_NETS)
DICT_USERS = ("admin info test webmaster sales support contact office mail postmaster user "
              "guest root noreply marketing billing hr service abuse").split()


def hash_str(s: str) -> int:
    """A stable (PYTHONHASHSEED-independent) string hash."""
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h
