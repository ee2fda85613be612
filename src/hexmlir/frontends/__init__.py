"""Frontends that hand kernels to hexmlir (Triton backend plugin: `hexmlir.frontends.triton`)."""
