"""`peppasync sandbox` as a user runs it: prints its configuration, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_the_sandbox_command_prints_working_credentials_and_stops_cleanly_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "peppasync", "sandbox", "--json", "--seed", "4"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        sections = json.loads("".join(lines))
        shopify = sections["shopify"]

        answer = requests.post(f"{shopify['shop_url']}/admin/api/{shopify['api_version']}/graphql.json",
                               json={"query": "{ shop { name } }"},
                               headers={"X-Shopify-Access-Token": shopify["access_token"]}, timeout=5)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert answer.json()["data"] == {"shop": {"name": "Peppasync Sandbox"}}
    assert sections["netsuite"]["account_id"] == "1234571_SB1"
    assert code == 0


def test_the_sandbox_command_with_business_central_prints_credentials_that_obtain_a_token():
    proc = subprocess.Popen([sys.executable, "-m", "peppasync", "sandbox", "--json", "--seed", "4", "--erp",
                             "business_central"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        sections = json.loads("".join(lines))
        bc = sections["business_central"]

        answer = requests.post(f"{bc['login_url']}/{bc['tenant']}/oauth2/v2.0/token", timeout=5, data={
            "grant_type": "client_credentials", "client_id": bc["client_id"], "client_secret": bc["client_secret"],
            "scope": "https://api.businesscentral.dynamics.com/.default"})
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert sections["erp"] == {"kind": "business_central"} and "netsuite" not in sections
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert code == 0
