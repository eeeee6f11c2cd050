/* dsp/dsp_pipeline.c (stub, being written) */
typedef int stub_unit_t;
