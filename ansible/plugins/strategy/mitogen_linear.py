"""Strategy ``mitogen_linear`` (ansible/ansible.cfg): Mitogen for Ansible's linear strategy.

The plugin comes from the ``mitogen`` package pinned in requirements.in (installed into
.cache/venv by scripts/setup.sh and into the Packer runner image by packer/Dockerfile); this file
only makes it loadable from a path relative to ansible.cfg, whatever the virtualenv's Python
version. It runs the play like ``linear`` but keeps one Python interpreter on each target for the
whole run instead of starting one per task. ``ANSIBLE_STRATEGY=linear`` falls back to plain
Ansible for one run.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
