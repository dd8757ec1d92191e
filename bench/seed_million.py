"""Fills a keyfleet SQLite database (schema already made by `keyfleet serve`) with N key
pairs spread evenly over S (account, region) scopes, straight into the tables: at API speed
a million would take a quarter of an hour. Scope 0 is the --dev account in us-east-1."""
import sqlite3
import sys

db, total, scopes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1"]
conn = sqlite3.connect(db)
per_scope = total // scopes
for s in range(scopes):
    account = "000000000000" if s == 0 else f"{100000000000 + s // len(regions)}"
    region = regions[s % len(regions)]
    rows = ((f"key-{s:06x}{i:011x}", account, region, f"s{i}", "ed25519", f"fp{s}-{i}",
             "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILR+zNQbYY5ORuhYXGMTSnjRLzS9C5dUdWRKdlqi20q2", 1_700_000_000_000 + i)
            for i in range(per_scope))
    conn.executemany("INSERT INTO key_pairs (id, account, region, name, key_type, fingerprint, public_key, created_ms)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("INSERT INTO key_pair_counts (account, region, n) VALUES (?, ?, ?)", (account, region, per_scope))
conn.commit()
conn.close()
