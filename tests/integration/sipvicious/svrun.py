#!/usr/bin/python3
# tests/integration/sipvicious/svrun.py - run Debian's sipvicious scanner
# TOOL (svwar or svcrack) bound to the source address BIND:
#
#   svrun.py TOOL BIND [TOOL ARGS...]
#
# Debian's sipvicious 0.3.3 parses -b/--bindingip but never passes it to
# the scanner, which then sends from the address the kernel picks
# (127.0.0.1 toward 127.0.0.1). This runs the packaged module itself with
# only that argument filled in, so the scan comes from BIND. Used by
# test_scanner.c.
import sys

sys.path.insert(0, '/usr/share/sipvicious')
tool, bind = sys.argv[1], sys.argv[2]
mod = __import__('sipvicious.' + tool, fromlist=['main'])
cls = mod.ASipOfRedWine if tool == 'svcrack' else mod.TakeASip
orig = cls.__init__


def init(self, *args, **kwargs):
    kwargs['bindingip'] = bind
    orig(self, *args, **kwargs)


cls.__init__ = init
sys.argv = [tool] + sys.argv[3:]
sys.exit(mod.main())
