"""The command line shared by the tools' end-to-end test drivers
(cli/cli_test.py, loadgen/load_test.py): each unittest method is one CTest
test, named Case.method (without "test_").

    driver --list                       the test names, one per line
    driver --<binary> PATH [NAME...]    run the named tests (default: all)
"""

from __future__ import annotations

import argparse
import os
import unittest
from typing import Callable, Iterator


def test_names(cases: tuple) -> Iterator[str]:
    loader = unittest.TestLoader()
    for case in cases:
        for method in loader.getTestCaseNames(case):
            yield f"{case.__name__}.{method.removeprefix('test_')}"


def run(description: str, cases: tuple, binary_option: str, use_binary: Callable[[str], None]) -> int:
    """Parses the command line; `use_binary` gets the absolute path of the
    binary under test before any test runs. Returns the exit status."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the test names and exit")
    parser.add_argument(binary_option, dest="binary", help="the binary to test")
    parser.add_argument("names", nargs="*", help="tests to run, as --list prints them (default: all)")
    arguments = parser.parse_args()
    if arguments.list:
        print("\n".join(test_names(cases)))
        return 0
    if not arguments.binary:
        parser.error(f"{binary_option} is required")
    use_binary(os.path.abspath(arguments.binary))
    by_name = {case.__name__: case for case in cases}
    suite = unittest.TestSuite()
    for name in arguments.names or list(test_names(cases)):
        case, method = name.split(".", 1)
        suite.addTest(by_name[case]("test_" + method))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1
