"""The version of pounce-core, kept where reading it imports nothing else."""

VERSION = "0.1.0"
