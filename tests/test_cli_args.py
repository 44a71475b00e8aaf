"""The shared command-line options (``intsnn.sw.cli_args``): one definition per option."""

import argparse

import pytest

from intsnn.sw.cli import build_parser
from intsnn.sw.cli_args import COMMON, add_common_args


def _type_name(t):
    return None if t is None else t.__name__


#: Options that share a flag but take a list: ``intsnn sweep``'s grid axes ("0,1").
LISTS = {("sweep", "--headroom")}


def test_every_command_declares_a_shared_option_as_the_shared_definition():
    """A command that re-declared --seed with plain ``int`` (or --data-dir without the empty
    check) would accept values the others refuse: each shared flag has one value type and one
    action in every command, the board commands of ``intsnn.host`` included."""
    flags = {flag: (name, spec) for name, (flag, spec) in COMMON.items()}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    seen = set()
    for command, p in sub.choices.items():
        for act in p._actions:
            for opt in act.option_strings:
                if opt not in flags or (command, opt) in LISTS:
                    continue
                name, spec = flags[opt]
                seen.add(name)
                want_action = (argparse._StoreTrueAction if spec.get("action") == "store_true"
                               else argparse._StoreAction)
                assert type(act) is want_action, (command, opt)
                assert _type_name(act.type) == _type_name(spec.get("type")), (command, opt)
                assert act.dest == name, (command, opt)
    assert seen == set(COMMON)  # every shared option is used by some command


def test_a_bad_value_of_a_shared_option_is_refused_while_parsing(capsys):
    p = argparse.ArgumentParser(prog="x")
    add_common_args(p, "seed", "data_dir", "shadow_bits", seed={"default": None})
    assert p.parse_args([]).seed is None
    assert p.parse_args(["--seed", "0", "--shadow-bits", "8"]).shadow_bits == 8
    for argv, msg in ((["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
                      (["--data-dir", " "], "argument --data-dir: is empty"),
                      (["--shadow-bits", "17"], "argument --shadow-bits: must be in 8..16")):
        with pytest.raises(SystemExit):
            p.parse_args(argv)
        assert msg in capsys.readouterr().err


@pytest.mark.parametrize("names, changes, message", [
    (("seed", "sed"), {}, r"no shared option 'sed'; choose from preset, data_dir"),
    (("seed",), {"epochs": {"default": 3}}, r"changes for 'epochs', which is not among"),
    (("seed",), {"seed": {"type": int}}, r"--seed: 'type' cannot change"),
])
def test_misuse_names_the_option(names, changes, message):
    with pytest.raises(ValueError, match=message):
        add_common_args(argparse.ArgumentParser(), *names, **changes)
