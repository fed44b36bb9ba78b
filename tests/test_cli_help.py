"""``convcli help TOPIC`` and ``--color auto|always|never`` with NO_COLOR."""

import io
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from convcli.cli import cli, resolve_color
from convcli.cli.help import TOPICS

ESC = "\x1b["
CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def run(args, env=None):
    return CliRunner().invoke(cli, args, env=env)


# --------------------------------------------------------------------------------------------------
# help topics


def test_the_required_topics_exist():
    assert {"boundaries", "padding", "stride-dilation", "pooling", "upsampling", "reports", "kernels",
            "scale"} <= set(TOPICS)


def test_the_learning_topic_names_commands_and_flags_that_exist():
    import re

    text = run(["help", "learning"]).stdout
    for command in ("show", "animate", "kernels"):
        assert re.search(rf"^  {command} ", text, re.M) and command in cli.list_commands(click.Context(cli))
    flags = set(re.findall(r"(--[a-z][a-z-]+)", text))
    assert {"--explain", "--explain-png", "--preview", "--sheet-scale", "--sheet-input"} <= flags
    known = {opt for name in ("filter", "pipeline", "show", "animate")
             for param in cli.get_command(click.Context(cli), name).params
             for opt in getattr(param, "opts", [])} | {"--png"}
    assert flags <= known, flags - known


@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_topic_prints_text_on_stdout(topic):
    result = run(["help", topic])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) > 5 and result.stderr == ""
    assert ESC not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 110


def test_boundaries_topic_holds_the_table():
    out = run(["help", "boundaries"]).stdout
    rows = {
        "zero (default)": ("0 0 [a b c d] 0 0", "CONSTANT", "zeros"),
        "constant --cval V": ("V V [a b c d] V V", "fill, fillvalue"),
        "reflect": ("c b [a b c d] c b", "REFLECT_101", "reflect"),
        "symmetric": ("b a [a b c d] d c", "symm", "REFLECT"),
        "edge": ("a a [a b c d] d d", "nearest", "REPLICATE", "replicate"),
        "wrap": ("c d [a b c d] a b", "WRAP", "circular"),
    }
    lines = out.splitlines()
    for name, cells in rows.items():
        row = [line for line in lines if line.strip().startswith(name + " ")]
        assert row, name
        assert all(cell in row[0] for cell in cells), row[0]
    assert "mirror" in out


def test_topics_hold_their_formulas():
    assert "⌈P/2⌉" in run(["help", "padding"]).stdout and "⌊P/2⌋" in run(["help", "padding"]).stdout
    assert "count_include_pad=False" in run(["help", "pooling"]).stdout
    assert "conv_transpose2d" in run(["help", "upsampling"]).stdout
    reports = run(["help", "reports"]).stdout
    assert all(code in reports for code in ("130", "143", "receptive_field", '"status": "error"'))
    assert "CONVCLI_KERNEL_PATH" in run(["help", "kernels"]).stdout
    layers = " ".join(run(["help", "layers"]).stdout.split())
    assert all(word in layers for word in ("glorot_uniform", "leaky_relu", "⌈n/s⌉", "c·M + m", "n·s + max(e − s, 0)"))
    scale = run(["help", "scale"]).stdout
    assert "offset" in scale and "keeps the image's uint8/uint16 values" in " ".join(scale.split())


def test_help_lists_topics():
    result = run(["help"])
    assert result.exit_code == 0
    for topic in TOPICS:
        assert f"  {topic} " in result.stdout


def test_help_points_to_the_reference_it_can_print_not_to_a_file_of_the_repository():
    """An installed wheel has no docs/cli.md: the pointer is a command that works there too."""
    out = run(["help"]).stdout
    assert "Reference: docs/cli.md" not in out
    assert out.rstrip().endswith("of every command: convcli help reference.")
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  ")][-1] == "reference"
    assert "convcli help reference" in run(["--help"]).stdout
    assert "'reference' prints the --help of every command" in " ".join(run(["help", "--help"]).stdout.split())


@pytest.mark.skipif(not CLI_MD.is_file(), reason="docs/ is not part of this tree")
def test_reference_topic_prints_the_cli_reference():
    result = run(["help", "reference"])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == CLI_MD.read_text(encoding="utf-8")
    assert ESC not in result.stdout
    headings = [line for line in result.stdout.splitlines() if line.startswith("## ")]
    assert {"## convcli", "## convcli filter", "## convcli pipeline", "## convcli kernels show"} <= set(headings)
    assert run(["help", "Reference"]).stdout == result.stdout


def test_reference_topic_follows_color_like_the_other_topics():
    plain = run(["--color", "never", "help", "reference"]).stdout
    coloured = run(["--color", "always", "help", "reference"]).stdout
    assert plain.startswith("# convcli command reference\n")
    assert coloured.startswith(ESC) and click.unstyle(coloured) == plain


def test_topics_are_forgiving_about_case_and_underscores():
    assert run(["help", "Stride_Dilation"]).stdout == run(["help", "stride-dilation"]).stdout


def test_unknown_topic_is_a_usage_error_listing_the_topics():
    result = run(["help", "nope"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "unknown topic 'nope'" in result.stderr
    assert all(topic in result.stderr for topic in [*TOPICS, "reference"])


# --------------------------------------------------------------------------------------------------
# --color and NO_COLOR


class FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("choice,tty,no_color,expected", [
    ("always", False, None, True),
    ("always", False, "1", True),  # an explicit flag beats NO_COLOR
    ("never", True, None, False),
    ("auto", True, None, True),
    ("auto", False, None, False),
    ("auto", True, "1", False),
    ("auto", True, "", True),  # NO_COLOR set but empty does not count
])
def test_resolve_color(choice, tty, no_color, expected):
    environ = {} if no_color is None else {"NO_COLOR": no_color}
    assert resolve_color(choice, FakeStream(tty), environ) is expected


@pytest.fixture
def probe():
    """A throw-away subcommand that prints what the group decided."""

    @click.command("color-probe")
    @click.pass_context
    def command(ctx):
        click.echo(f"{ctx.obj['color']} {ctx.color}")
        click.echo(click.style("styled", bold=True))

    cli.add_command(command)
    yield
    cli.commands.pop("color-probe")


@pytest.mark.parametrize("args,env,expected", [
    (["--color", "always"], {}, "True True"),
    (["--color", "always"], {"NO_COLOR": "1"}, "True True"),
    (["--color", "never"], {}, "False False"),
    ([], {}, "False None"),  # auto, not a terminal: click decides per stream
    ([], {"NO_COLOR": "1"}, "False False"),
    (["--color", "auto"], {"NO_COLOR": ""}, "False None"),
])
def test_color_in_ctx_obj(probe, args, env, expected):
    result = run([*args, "color-probe"], env=env)
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first == expected
    assert (ESC in second) is expected.startswith("True")


def test_bad_color_is_a_usage_error():
    assert run(["--color", "sometimes", "help"]).exit_code == 2


def test_help_topic_headings_follow_color():
    assert ESC in run(["--color", "always", "help", "padding"]).stdout
    assert ESC in run(["--color", "always", "help", "padding"], env={"NO_COLOR": "1"}).stdout
    assert ESC not in run(["--color", "never", "help", "padding"]).stdout
    assert ESC not in run(["help", "padding"], env={"NO_COLOR": "1"}).stdout


@pytest.mark.parametrize("args,env,coloured", [
    (["--color", "never"], {}, False),
    (["--color", "always"], {}, True),
    (["--color", "always"], {"NO_COLOR": "1"}, True),
    ([], {"NO_COLOR": "1"}, False),
    ([], {}, False),  # auto, and CliRunner's stdout is not a terminal
])
def test_kernels_list_follows_color(args, env, coloured):
    result = run([*args, "kernels", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "sobel-x" in result.stdout
    assert (ESC in result.stdout) is coloured
