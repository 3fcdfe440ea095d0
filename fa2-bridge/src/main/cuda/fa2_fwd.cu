// placeholder until fa2_fwd.cu lands
