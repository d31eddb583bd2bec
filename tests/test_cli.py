"""The `safety` command: every subcommand answers --help without importing what it does not need, argument errors
are click's usage errors (exit 2), and `python -m streams` is the same command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from streams.cli import COMMANDS, safety


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams", *args], capture_output=True, text=True, timeout=120)


def every_command() -> list[list[str]]:
    """Each subcommand of COMMANDS and, for a group, each of its own subcommands."""
    found: list[list[str]] = []
    for name in COMMANDS:
        command = safety.get_command(click.Context(safety), name)
        found.append([name])
        if isinstance(command, click.Group):
            found += [[name, sub] for sub in command.list_commands(click.Context(command))]
    return found


def test_top_level_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    listed = result.stdout.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_subcommand_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: safety {' '.join(command)} ")


@pytest.mark.parametrize("command", [["replay"], ["rules", "check"]], ids=" ".join)
def test_the_offline_commands_import_neither_faust_nor_apprise(command: list[str]) -> None:
    probe = (
        "import sys\nfrom streams.cli import main\ncode = main([*sys.argv[1:], '--help'])\n"
        "print(code, 'faust' in sys.modules, 'apprise' in sys.modules, 'aiohttp' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "0 False False False", result.stderr


def test_python_m_streams_admin_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.admin", "topics", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.startswith("Usage: safety topics ")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["replay", "events.jsonl"], "Missing option '--out'"),
        (["replay"], "Missing argument 'EVENTS'"),
        (["rules", "check"], "Missing argument 'FILE|DIR...'"),
        (["ack", "A1", "--who", "x", "--causality", "maybe"], "Invalid value for '--causality'"),
        (["worker", "--web-port", "many"], "Invalid value for '--web-port': 'many' is not a valid integer"),
        (["worker", "--loglevel", "loud"], "Invalid value for '--loglevel'"),
        (["produce", "events.jsonl", "--rate", "0"], "Invalid value for '--rate'"),
        (["produce", "events.jsonl", "--timeout", "-1"], "Invalid value for '--timeout'"),
        (["deliver", "--alerts", "a.jsonl", "--outbox", "o", "--wait", "-5"], "Invalid value for '--wait'"),
        (["demo", "--subjects", "0"], "Invalid value for '--subjects'"),
        (["report", "--out", "r"], "Missing option '--from-replay'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_a_bad_argument_is_a_usage_error_with_exit_2(args: list[str], error: str) -> None:
    result = CliRunner().invoke(safety, args, prog_name="safety")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Usage: safety ") and f"Error: {error}" in result.output


def test_missing_events_file_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run("replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no such file" in result.stderr


def run_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command with no SAFETY_* variable of this shell (no broker), plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SAFETY_", "APPRISE_"))}
    return subprocess.run(
        [sys.executable, "-m", "streams", *args], capture_output=True, text=True, timeout=120, env={**clean, **env}
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_worker_refuses_a_web_port_out_of_range_in_one_line() -> None:
    line = one_line(run_env({}, "worker", "--web-port", "99999"))
    assert line == (
        "safety worker: SAFETY_WEB_PORT=99999 (from the command line): Input should be less than or equal to 65535"
    )


def test_worker_refuses_zero_partitions_in_one_line() -> None:
    line = one_line(run_env({"SAFETY_PARTITIONS": "0"}, "worker"))
    assert line == "safety worker: SAFETY_PARTITIONS=0: Input should be greater than or equal to 1"


def test_worker_refuses_a_misspelt_study_time_zone_with_the_nearest_one() -> None:
    line = one_line(run_env({"SAFETY_STUDY_TZ": "Asia/Shangai"}, "worker"))
    assert line == (
        "safety worker: SAFETY_STUDY_TZ=Asia/Shangai: 'Asia/Shangai' is not an IANA time zone "
        "(did you mean 'Asia/Shanghai'?)"
    )


def _deliver(tmp_path: Path, env: dict[str, str], config: str | None = None) -> subprocess.CompletedProcess[str]:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("", encoding="utf-8")
    args = ["deliver", "--alerts", str(alerts), "--outbox", str(tmp_path / "outbox")]
    if config is not None:
        path = tmp_path / "apprise.yml"
        path.write_text(config, encoding="utf-8")
        args += ["--config", str(path)]
    return run_env(env, *args)


def test_a_one_character_link_secret_is_refused_without_quoting_it(tmp_path: Path) -> None:
    line = one_line(_deliver(tmp_path, {"SAFETY_LINK_SECRET": "Q"}))
    assert line.startswith("safety deliver: SAFETY_LINK_SECRET: the secret has 1 characters, at least 32 are needed")
    assert "Q" not in line.removeprefix("safety deliver: SAFETY_LINK_SECRET")


def test_one_character_role_tokens_are_refused_naming_the_role_not_the_token(tmp_path: Path) -> None:
    strong = "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa"
    line = one_line(_deliver(tmp_path, {"SAFETY_AUTH_TOKENS": f"pi:{strong},ethics:Z"}))
    assert line.startswith("safety deliver: SAFETY_AUTH_TOKENS: the ethics token has 1 characters, at least 32")
    assert strong not in line and ":Z" not in line


MAILPIT = "version: 1\nurls:\n  - mailto://127.0.0.1:1025?from=sae-alerts@example.org&mode=insecure:\n"


def test_an_invalid_e_mail_address_in_the_apprise_file_is_refused_with_its_key(tmp_path: Path) -> None:
    config = MAILPIT + (
        "      - to: pi@@example.org\n        tag: pi\n"
        "      - to: ethics@example.org\n        tag: ethics\n"
        "      - to: officer@example.org\n        tag: safety_officer\n"
    )
    line = one_line(_deliver(tmp_path, {}, config))
    assert line == (
        f"safety deliver: {tmp_path / 'apprise.yml'}: urls[0][0].to: 'pi@@example.org' is not an e-mail "
        "address; write it as name@domain (apprise would drop it and that recipient silently gets nothing)"
    )


def test_a_misspelt_recipient_tag_in_the_apprise_file_is_refused_with_the_nearest_role(tmp_path: Path) -> None:
    config = MAILPIT + (
        "      - to: pi@example.org\n        tag: pi, ethic\n"
        "      - to: ethics@example.org\n        tag: ethics\n"
        "      - to: officer@example.org\n        tag: safety_officer\n"
    )
    line = one_line(_deliver(tmp_path, {}, config))
    assert line == (
        f"safety deliver: {tmp_path / 'apprise.yml'}: tag 'ethic' of a mailto URL is not a recipient role "
        "(pi, ethics, safety_officer) (did you mean 'ethics'?); a URL without a role is never used"
    )


def test_the_demo_apprise_file_and_strong_secrets_are_accepted(tmp_path: Path) -> None:
    token = "k3Jv9-QxT2mLw8Zr4bYp6NcHs1DfGuEa"
    env = {"SAFETY_LINK_SECRET": token[::-1], "SAFETY_AUTH_TOKENS": f"pi:{token},ethics:{token[1:]}x"}
    config = (Path(__file__).resolve().parents[1] / "deploy" / "apprise.mailpit.yml").read_text(encoding="utf-8")
    result = _deliver(tmp_path, env, config)
    assert result.returncode == 0, result.stderr
    assert "3 channel(s)" in result.stderr


def closed_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_produce_to_an_unreachable_broker_gives_up_after_its_timeout_and_says_so_in_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "lab", "subject_id": "AA-001"}\n', encoding="utf-8")
    address = f"127.0.0.1:{closed_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "streams", "produce", str(events), "--bootstrap", address, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"no answer from the broker at {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_produce_keys_a_line_nested_too_deep_to_read_by_nothing_instead_of_crashing() -> None:
    from streams.admin import subject_key

    assert subject_key(b'{"subject_id": "AA-001", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
    assert subject_key(b'{"subject_id": "AA-001"}') == b"AA-001"


def help_text(command: str) -> tuple[str, str]:
    """(description paragraph, whole help) of `safety COMMAND --help`."""
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    paragraphs = result.stdout.split("\n\n")
    return " ".join(paragraphs[1].split()), result.stdout


@pytest.mark.parametrize("command", ["ack", "deliver", "produce"])
def test_help_of_the_delivery_commands_reads_as_sentences(command: str) -> None:
    description, whole = help_text(command)
    assert description[0].isupper() and description.endswith("."), description
    assert not description.startswith("`"), description


@pytest.mark.parametrize("command", ["ack", "deliver"])
def test_every_option_of_ack_and_deliver_is_explained(command: str) -> None:
    found = safety.get_command(click.Context(safety), command)
    assert found is not None
    for option in found.params:
        if isinstance(option, click.Option):
            assert option.help and len(option.help.split()) >= 3, (command, option.name)


def test_ack_url_is_documented_with_its_default_the_workers_address() -> None:
    _, whole = help_text("ack")
    assert "--url URL" in whole and "the worker's web address" in whole
    assert "default: http://127.0.0.1:6066" in " ".join(whole.split())


def test_the_demo_serves_on_the_port_ack_reaches_and_refuses_a_taken_one_saying_how_to_choose() -> None:
    import socket

    from streams.cli.ack import DEFAULT_URL
    from streams.dev.demo import DemoError, web_port
    from streams.settings import Settings

    assert DEFAULT_URL == f"http://127.0.0.1:{Settings().web.port}"
    port = closed_port()
    assert web_port(Settings(web={"port": port})) == port  # the same port on every run: earlier links still work
    assert web_port(Settings(), port) == port  # --port wins over SAFETY_WEB_PORT
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(DemoError) as refused:
            web_port(Settings(web={"port": port}))
        assert f"port {port} is taken" in str(refused.value) and f"--port {port + 1}" in str(refused.value)
        assert web_port(Settings(web={"port": port}), 0) not in (0, port)  # --port 0: any free port
