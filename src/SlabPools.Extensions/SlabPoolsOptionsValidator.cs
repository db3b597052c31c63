using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace SlabPools.Extensions;

/// <summary>Validates <see cref="SlabPoolsOptions"/> with <see cref="SlabPoolsOptions.Validate"/>; each message names its setting.</summary>
internal sealed class SlabPoolsOptionsValidator : IValidateOptions<SlabPoolsOptions>
{
    public ValidateOptionsResult Validate(string? name, SlabPoolsOptions options)
    {
        IReadOnlyList<string> errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
