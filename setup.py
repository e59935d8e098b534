# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Packaging for glancing: keep OpenStack Glance in step with endorsed VM images."""

from setuptools import find_packages, setup

setup(
    name="glancing",
    version="1.0.0.dev0",
    description="Import verified, endorsed VM images into OpenStack Glance, and keep them in step",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.9",
    install_requires=[
        # lxml 5.x fails to import beside the xmlsec wheel (libraries.md A.4).
        "lxml>=6.0,<6.2",
        "rdflib>=7",
        "requests>=2.28",
        "python-glanceclient>=4",
        "python-keystoneclient>=5",
        "keystoneauth1>=5",
        # openstack.config is the one loader that reads OS_*, OS_CLOUD and clouds.yaml together.
        "openstacksdk>=1.0",
        # XML-DSig of StratusLab records, S/MIME of HEPiX lists, grid CA chains with CRLs.
        "xmlsec>=1.3.14",
        "cryptography>=42",
        "asn1crypto>=1.5",
        "pyhanko-certvalidator>=0.26",
        # OpenNebula's official XML-RPC binding, for the OpenNebula target (--target opennebula).
        "pyone>=6.8",
    ],
    # PyYAML reads the recorded OpenNebula traffic the simulator is checked against.
    extras_require={"test": ["pytest>=7", "PyYAML>=6"]},
    entry_points={
        "console_scripts": [
            "glancing = glancing.cli.glancing:main",
            "glancing-metadata = glancing.cli.metadata:main",
            "glancing-publish = glancing.cli.publish:main",
            "glance_manager = glancing.cli.manager:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Environment :: OpenStack",
        "Topic :: System :: Systems Administration",
    ],
)
