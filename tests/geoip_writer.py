"""geoip_writer: small MaxMind DB files for tests, shaped as GeoLite2's and DB-IP's are.

SUMMARY
    write_database(path, {"192.0.2.0/24": record, ...}, database_type="GeoLite2-City",
                   ip_version=6) -> str(path)
    city(country, latitude, longitude, radius=20) / country(code) / asn(number, org) -> record
    write_sample(directory) -> [City file, ASN file]: made-up places for the shipped sample's
        addresses (the simulator's attackers' first octets by country, everything else Japan)
    python tests/geoip_writer.py DIRECTORY    writes those two files there

DESCRIPTION
    Written with the mmdb-writer package (the test extra), which lays out the search tree and
    data section as MaxMind's own writer does: IPv4 networks of an IPv6 file under ::/96, as in
    GeoLite2's files, so that the official reader finds them by IPv4 address. The records carry
    the fields maillog-sasl reads (country.iso_code, location with accuracy_radius,
    autonomous_system_number and _organization), named as in GeoLite2. The places of
    write_sample() are invented: the sample's addresses are made up too (tools/simulate).

DIAGNOSTICS
    ValueError from mmdb-writer for an IPv6 network in an IPv4 file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

from mmdb_writer import MMDBWriter
from netaddr import IPSet

ROOT = Path(__file__).resolve().parent.parent


def city(code: str, latitude: float, longitude: float, radius: int = 20) -> dict:
    return {"country": {"iso_code": code, "names": {"en": code}},
            "location": {"latitude": float(latitude), "longitude": float(longitude),
                         "accuracy_radius": radius}}


def country(code: str) -> dict:
    return {"country": {"iso_code": code, "names": {"en": code}}}


def asn(number: int, organisation: str) -> dict:
    return {"autonomous_system_number": number, "autonomous_system_organization": organisation}


def write_database(path, networks: Dict[str, dict], database_type: str = "GeoLite2-City",
                   ip_version: int = 6) -> str:
    writer = MMDBWriter(ip_version=ip_version, database_type=database_type, languages=["en"],
                        description=f"maillog-sasl test {database_type}",
                        ipv4_compatible=ip_version == 6)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return str(path)


# Capitals, roughly: the made-up places of the sample's attackers.
CAPITALS = {
    "JP": (35.68, 139.69), "CN": (39.90, 116.40), "RU": (55.75, 37.62), "BR": (-15.79, -47.88),
    "VN": (21.03, 105.85), "IN": (28.61, 77.21), "US": (38.90, -77.04), "NL": (52.37, 4.90),
    "ID": (-6.21, 106.85), "TR": (39.93, 32.86), "UA": (50.45, 30.52), "KR": (37.57, 126.98),
    "IR": (35.69, 51.39), "NG": (6.52, 3.38), "PK": (33.68, 73.05), "AR": (-34.60, -58.38),
    "MX": (19.43, -99.13), "RO": (44.43, 26.10), "TH": (13.75, 100.50),
}
# The sample's own users: an office, two home ISPs, carriers and hotels, all in Japan.
SAMPLE_HOME = {"192.0.2.0/24": (64496, "Corp Example Office"),
               "198.51.100.0/24": (64497, "ISP One"), "203.0.113.0/24": (64498, "ISP Two"),
               "198.18.0.0/15": (64499, "Example Mobile"), "2001:db8::/32": (64500, "ISP Six")}


def sample_networks() -> Dict[str, tuple]:
    """network -> (country, AS number, organisation) for the shipped sample's addresses."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tools.simulate.names import ATTACK_NETS

    found = {network: ("JP", number, name) for network, (number, name) in SAMPLE_HOME.items()}
    # A first octet listed for several countries belongs to the first; AS numbers from the
    # documentation range of RFC 5398.
    for index, (code, octets) in enumerate(ATTACK_NETS.items()):
        for octet in octets:
            found.setdefault(f"{octet}.0.0.0/8", (code, 65536 + index, f"Hosting {code}"))
    return found


def write_sample(directory) -> List[str]:
    directory = Path(directory)
    places = sample_networks()
    cities = {network: city(code, *CAPITALS[code], radius=50)
              for network, (code, _, _) in places.items()}
    numbers = {network: asn(number, name) for network, (_, number, name) in places.items()}
    return [write_database(directory / "sample-City.mmdb", cities, "GeoLite2-City"),
            write_database(directory / "sample-ASN.mmdb", numbers, "GeoLite2-ASN")]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/geoip_writer.py DIRECTORY")
    Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
    for written in write_sample(sys.argv[1]):
        print(written)
